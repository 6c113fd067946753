"""Run ids and default names: ids are UUIDv7 (random, ordered by creation time), made one at
a time or many at once (a scheduler pass makes a hundred thousand)."""

from __future__ import annotations

import re
import uuid

from plait.runs import generate_run_names, new_id, new_ids

NAME = re.compile(r"^[a-z]+-[a-z]+$")


def test_ids_made_one_or_many_at_a_time_are_distinct_uuid7s_in_creation_order():
    first = new_id()
    many = new_ids(10_000)
    last = new_id()

    assert len(set(many)) == 10_000
    parsed = [uuid.UUID(value) for value in (first, *many, last)]
    assert {(value.version, value.variant) for value in parsed} == {(7, uuid.RFC_4122)}
    assert [str(value) for value in parsed] == [first, *many, last]
    assert first[:13] <= min(many)[:13] <= max(many)[:13] <= last[:13], "ordered by time (ms)"
    assert new_ids(0) == []


def test_names_made_many_at_a_time_are_like_single_names():
    names = generate_run_names(1_000)

    assert len(names) == 1_000
    assert all(NAME.match(name) for name in names)
    assert len(set(names)) > 100, "drawn at random, not one name repeated"
