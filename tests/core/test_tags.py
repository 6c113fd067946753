"""``with tags(...)``: tags added to the flow runs and task runs created inside a block, on
top of their decorators' tags, as Prefect's ``tags`` context manager does."""

from __future__ import annotations

import pytest

from plait import InvalidOptionError, flow, tags, task


@task(tags=["math"])
def double(x: int) -> int:
    return 2 * x


@task
def add(x: int, y: int) -> int:
    return x + y


def test_tags_around_a_flow_call_reach_the_flow_run_and_its_task_runs(recorder, task_runner):
    @flow(tags=["etl"], task_runner=task_runner)
    def pipeline() -> int:
        first = double(1)
        with tags("inner", "etl"):
            submitted = double.submit(2)
            mapped = add.map([1, 2], [3, 4])
        after = add(first, submitted.result())
        return after + sum(mapped.result())

    with tags("nightly"):
        assert pipeline() == 16
    pipeline()

    tagged, plain = recorder.flow_runs()
    assert tagged.tags == ("etl", "nightly")
    assert plain.tags == ("etl",)
    by_name = {run.name: run.tags for run in recorder.task_runs(tagged.id)}
    assert by_name == {
        "double-0": ("math", "nightly"),
        "double-1": ("math", "nightly", "inner", "etl"),
        "add-0": ("nightly", "inner", "etl"),
        "add-1": ("nightly", "inner", "etl"),
        "add-2": ("nightly",),
    }
    assert not any("nightly" in run.tags for run in recorder.task_runs(plain.id))


def test_tagged_runs_are_recorded_and_found_by_tag(store):
    @flow
    def report() -> int:
        return double(3)

    with tags("adhoc"):
        report()
    report()

    [found] = store.client.read_flow_runs(tags=["adhoc"])
    assert found.tags == ("adhoc",)
    [task_run] = store.client.read_task_runs(found.id)
    assert task_run.tags == ("math", "adhoc")
    assert len(store.client.read_flow_runs()) == 2


def test_blocks_nest_and_yield_the_tags_in_effect():
    with tags("nightly") as outer:
        with tags("inner", "nightly") as inner:
            assert inner == {"nightly", "inner"}
        assert outer == {"nightly"}


def test_the_block_ends_its_tags_even_when_the_code_inside_raises(recorder):
    with pytest.raises(RuntimeError, match="inside"), tags("doomed"):
        raise RuntimeError("inside")
    double(1)
    [run] = recorder.task_runs()
    assert run.tags == ("math",)


@pytest.mark.parametrize("bad", ["", 3, None, ["etl"]])
def test_a_tag_that_is_not_a_non_empty_string_is_refused_by_name(bad):
    refused = r"tags\(\): each tag must be a non-empty string"
    with pytest.raises(InvalidOptionError, match=refused), tags("fine", bad):
        pass
