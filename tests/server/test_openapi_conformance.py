"""schemathesis against the live server's OpenAPI schema: generated requests, valid ones
and ones that break the schema, to every operation; no answer may be a 5xx or differ from
what the schema documents (status, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

EXAMPLES = 25  # per operation and mode: bounded, so the suite stays fast


def _without_cursor(mode: GenerationMode):
    """Valid cases without ``after``: a cursor is opaque, so only the server can make a valid
    one (invalid cases keep theirs, which must be refused)."""

    def drop(case: schemathesis.Case) -> schemathesis.Case:
        if mode is GenerationMode.POSITIVE and case.query:
            case.query.pop("after", None)
        return case

    return drop


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_schema(api, api_runs, mode):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    if mode is GenerationMode.NEGATIVE:  # only a parameter can be sent wrong
        operations = [op for op in operations if list(op.iter_parameters())]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode).map(_without_cursor(mode)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_schema(case: schemathesis.Case) -> None:
            case.call_and_validate()

        answers_within_schema()
