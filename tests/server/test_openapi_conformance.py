"""schemathesis against the live server's OpenAPI schema: generated requests, valid ones
and ones that break the schema, to every operation; no answer may be a 5xx or differ from
what the schema documents (status, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.meta import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from plait.backend import get_backend
from plait.backend.api_keys import Scope

EXAMPLES = 25  # per operation and mode: bounded, so the suite stays fast


def _prepared(mode: GenerationMode, token: str):
    """Cases sent with a valid API key unless their headers are the invalid part (a missing
    or wrong key, which must be refused), and valid cases without ``after``: a cursor is opaque,
    so only the server can make a valid one (invalid cases keep theirs, to be refused)."""

    def prepare(case: schemathesis.Case) -> schemathesis.Case:
        if mode is GenerationMode.POSITIVE and case.query:
            case.query.pop("after", None)
        headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
        if headers is None or headers.mode is GenerationMode.POSITIVE:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        return case

    return prepare


@pytest.mark.parametrize("scope", [Scope.READ, Scope.WRITE])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_schema(api, etl_runs, mode, scope):
    """With an API key in force, sent on every request (schemathesis also checks that a
    wrong or missing key is refused): a read key for every operation (the others refuse it),
    and a write key for the operations that change something, so their bodies are tried."""
    _, token = get_backend().api_keys().create("schemathesis", scope)
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    excluded = []
    if scope is Scope.WRITE:
        operations = [op for op in operations if op.method.upper() != "GET"]
        # A well-formed save may still be refused, with a documented 4xx: a block that
        # exists, a value the store cannot hold (a NUL, a lone surrogate) the schema cannot
        # say. What may never happen is a 5xx, or an answer the schema does not describe.
        excluded = [positive_data_acceptance]
    if mode is GenerationMode.NEGATIVE:  # only a parameter can be sent wrong
        operations = [op for op in operations if list(op.iter_parameters())]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode).map(_prepared(mode, token)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases every run
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_schema(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=excluded)

        answers_within_schema()
