"""Run loggers, print capture, the run journal, and the recorder interface."""

from __future__ import annotations

import logging
import sys

import pytest

from plait import MissingContextError, flow, get_run_logger, task
from plait.journal import (
    MemoryRecorder,
    Recorder,
    RunCreated,
    StateChanged,
    set_recorder,
)
from plait.runs import LogRecord


@task
def shout(word: str) -> str:
    get_run_logger().warning("shouting %s", word)
    print(word.upper())
    return word.upper()


def test_log_records_carry_their_run_ids(recorder):
    @flow
    def pipeline():
        get_run_logger().info("flow says hi")
        return shout("hey")

    pipeline()
    [flow_run] = recorder.flow_runs()
    [task_run] = recorder.task_runs()
    by_message = {log.message: log for log in recorder.logs(flow_run.id)}
    assert by_message["flow says hi"].task_run_id is None
    assert by_message["shouting hey"].task_run_id == task_run.id
    assert by_message["shouting hey"].logger == "plait.task_runs"
    assert all(log.flow_run_id == flow_run.id for log in by_message.values())


def test_log_records_carry_run_ids_and_names_for_handlers():
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect()
    logging.getLogger("plait").addHandler(handler)
    try:

        @flow(flow_run_name="nightly-run")
        def pipeline():
            get_run_logger().info("flow line")
            shout("x")

        pipeline()
    finally:
        logging.getLogger("plait").removeHandler(handler)
    by_message = {r.getMessage(): r for r in records}
    flow_line, task_line = by_message["flow line"], by_message["shouting x"]
    assert (flow_line.flow_run_name, flow_line.task_run_name) == ("nightly-run", None)
    assert (task_line.flow_run_name, task_line.task_run_name) == ("nightly-run", "shout-0")
    assert task_line.flow_run_id == flow_line.flow_run_id
    assert task_line.task_run_id


def test_log_prints_captures_print_in_the_flow_and_its_tasks(recorder, capsys):
    @flow(log_prints=True)
    def pipeline():
        print("from the flow", 1, sep="-")
        print("to stderr stays a print", file=sys.stderr)
        return shout("task")

    pipeline()
    messages = [log.message for log in recorder.logs()]
    assert "from the flow-1" in messages
    assert "TASK" in messages
    assert "to stderr stays a print" not in messages
    assert "to stderr stays a print" in capsys.readouterr().err


def test_prints_are_left_alone_without_log_prints(recorder, capsys):
    @flow
    def pipeline():
        print("plain print")
        shout.with_options(log_prints=False)("x")

    pipeline()
    assert "plain print" in capsys.readouterr().out
    assert not [log for log in recorder.logs() if log.message in ("plain print", "X")]


def test_a_task_can_opt_out_of_its_flows_log_prints(recorder, capsys):
    @flow(log_prints=True)
    def pipeline():
        shout.with_options(log_prints=False)("quiet")

    pipeline()
    assert "QUIET" in capsys.readouterr().out


def test_get_run_logger_outside_a_run_says_where_to_use_it():
    with pytest.raises(
        MissingContextError, match="inside a function decorated with @flow or @task"
    ):
        get_run_logger()


def test_journal_records_creation_states_and_graph(recorder):
    @task
    def pair(a, b):
        return a, b

    @flow
    def pipeline(n: int, label: str = "x"):
        a, b = shout.submit("a"), shout.submit("b")
        return pair.submit(a, b).result()

    pipeline(2)
    created = [e for e in recorder.events if isinstance(e, RunCreated)]
    assert [(e.kind, e.name) for e in created][:1] == [("flow", created[0].name)]
    assert created[0].parameters == {"n": 2, "label": "x"}
    a, b, paired = recorder.task_runs()
    assert paired.upstream == (a.id, b.id)
    assert all(run.flow_run_id == created[0].run_id for run in (a, b, paired))
    states = [e for e in recorder.events if isinstance(e, StateChanged) and e.run_id == paired.id]
    assert [s.state for s in states] == ["Pending", "Running", "Completed"]
    assert states[0].timestamp <= states[1].timestamp <= states[2].timestamp


def test_a_failure_is_journaled_with_its_traceback(recorder):
    with pytest.raises(ValueError, match="invalid literal"):
        task(lambda: int("not a number"))()
    failed = recorder.task_runs()[0].states[-1]
    assert failed.type == "Failed"
    assert "Traceback" in failed.detail
    assert "invalid literal for int()" in failed.detail


def test_parameters_are_journaled_as_plain_data_not_live_objects(recorder):
    class Connection:
        def __repr__(self):
            return "Connection(<masked>)"

    @flow
    def pipeline(conn, rows: list, when=None):
        return None

    pipeline(Connection(), list(range(500)))
    parameters = recorder.flow_runs()[0].parameters
    assert parameters == {"conn": "Connection(<masked>)", "rows": list(range(100)), "when": None}


def test_any_recorder_plugs_in_without_changing_callers():
    class CountingRecorder(Recorder):
        def __init__(self):
            self.kinds = []

        def record(self, event):
            self.kinds.append(type(event).__name__)

    counting = CountingRecorder()
    previous = set_recorder(counting)
    try:

        @flow(log_prints=True)
        def pipeline():
            print("hello")
            return shout("x")

        pipeline()
    finally:
        set_recorder(previous)
    assert counting.kinds.count("RunCreated") == 2
    assert counting.kinds.count("StateChanged") == 6
    assert "LogRecord" in counting.kinds


def test_memory_recorder_answers_questions_about_runs():
    recorder = MemoryRecorder()
    previous = set_recorder(recorder)
    try:
        shout("solo")
    finally:
        set_recorder(previous)
    run = recorder.task_runs()[0]
    assert recorder.run(run.id) is not None
    assert run.duration >= 0
    assert run.run_count == 1
    assert isinstance(recorder.logs()[0], LogRecord)
    with pytest.raises(KeyError):
        recorder.run("nope")
