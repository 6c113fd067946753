"""The conformance kit (``plait.testing``) over Plait's standard blocks and the example
integration's blocks, and proof that it fails a block type that breaks the rules."""

from __future__ import annotations

from collections.abc import Callable

import plait.blocks
from plait.blocks import Block, registry
from plait.blocks import plugin as standard_blocks
from plait.testing import BlockConformance
from plait_example.blocks import ExampleBucket, ExampleCredentials


def _standard_examples() -> dict[str, Callable[[], list[Block]]]:
    """Examples for each standard block type this test knows, by class name."""
    blocks = plait.blocks
    return {
        "Secret": lambda: [
            blocks.Secret(value="s3cr3t-t0ken-conformance"),
            blocks.Secret(value={"user": "ada", "password": "correct-horse-battery"}),
        ],
        "DatabaseCredentials": lambda: [
            blocks.DatabaseCredentials(
                driver="postgresql+psycopg",
                host="db.example.com",
                port=5432,
                user="analytics",
                password="warehouse-pa55word-conformance",
                database="warehouse",
                query={"sslmode": "require"},
            ),
            blocks.DatabaseCredentials(driver="sqlite", database="/tmp/plait-conformance.db"),
        ],
        "LocalFileSystem": lambda: [blocks.LocalFileSystem(basepath="/tmp/plait-conformance")],
        "Webhook": lambda: [
            blocks.Webhook(
                url="https://hooks.example.com/services/T0K3N-conformance",
                headers={"Authorization": "Bearer webhook-s3cr3t"},
                json_body={"text": "{{subject}}: {{body}}"},
            )
        ],
        "Email": lambda: [
            blocks.Email(
                smtp_server="smtp.example.com",
                username="plait@example.com",
                password="smtp-pa55word",
                from_address="plait@example.com",
                to_addresses=["data-team@example.com"],
            ),
            blocks.Email(
                smtp_server="127.0.0.1",
                smtp_type="INSECURE",
                from_address="plait@example.com",
                to_addresses=["a@example.com", "b@example.com"],
            ),
        ],
    }


def _examples_for(types: list[type]) -> list[Block]:
    """Examples for the registered types; a type with none is left for the kit to report."""
    known = _standard_examples()
    return [example for cls in types for example in known.get(cls.__name__, list)()]


class TestStandardBlocks(BlockConformance):
    plugin = standard_blocks
    examples = _examples_for(list(standard_blocks.plait_block_types()))


CREDENTIALS = ExampleCredentials(endpoint="http://127.0.0.1:9", api_key="ex-api-key-0123456789")


class TestExampleIntegration(BlockConformance):
    plugin = "example"  # found through its entry point, like an installed integration
    examples = [
        CREDENTIALS,
        ExampleBucket(folder="/tmp/example-bucket", credentials=CREDENTIALS),
    ]


BAD_INTEGRATION = '''
import sys

from plait import hookimpl
from plait.blocks import Block, CheckResult, CredentialsBlock
from plait.testing import BlockConformance


class LeakyCredentials(CredentialsBlock):
    """Credentials that keep their key in a plain field, with no documentation URL."""

    _code_example = "LeakyCredentials(api_key='...')"

    api_key: str

    def check(self) -> CheckResult:
        return CheckResult(True, "ok", 0.0)


class Forgotten(Block):
    """A registered type without an example."""

    _documentation_url = "https://example.com/forgotten"
    _code_example = "Forgotten()"


@hookimpl
def plait_block_types():
    return [LeakyCredentials, Forgotten]


class TestLeaky(BlockConformance):
    plugin = sys.modules[__name__]
    examples = [LeakyCredentials(api_key="sk-live-0123456789")]
'''


def test_the_kit_fails_a_bad_block_type(pytester, monkeypatch):
    # the run is in-process: keep its block classes out of this process's registry
    monkeypatch.setattr(registry, "_types", dict(registry._types))
    pytester.makepyfile(test_leaky=BAD_INTEGRATION)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    failed = {line.split(" - ")[0] for line in result.outlines if line.startswith("FAILED")}
    assert failed == {
        "FAILED test_leaky.py::TestLeaky::test_every_registered_type_has_an_example",
        "FAILED test_leaky.py::TestLeaky::test_documentation_url[leaky-credentials]",
        "FAILED test_leaky.py::TestLeaky::test_secret_looking_fields_are_secret[leaky-credentials]",
    }, result.stdout.str()
    assert outcomes["failed"] == 3
    assert outcomes["passed"] >= 6
    text = result.stdout.str()
    assert "Forgotten (forgotten) has no example" in text
    assert "LeakyCredentials has no documentation URL" in text
    assert "LeakyCredentials keeps ['api_key'] in plain" in text
