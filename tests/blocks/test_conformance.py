"""The conformance kit (``plait.testing``) over Plait's standard blocks and the example
integration's blocks, and proof that it fails a block type that breaks the rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import plait.blocks
from plait.blocks import Block, registry
from plait.blocks import plugin as standard_blocks
from plait.testing import BlockConformance
from plait.testing.blocks import SAVE_NAME
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


READ_AND_CLOSE = (
    "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT * FROM sqlite_master')"
)


class _SecretsKit(BlockConformance):  # not collected: its checks are called by the test below
    plugin = standard_blocks
    examples = [plait.blocks.Secret(value="at-rest-scan-s3cr3t")]


def test_the_at_rest_scan_leaves_this_process_s_store_connections_locked(tmp_path, monkeypatch):
    """The scan reads plait.db and its -wal and -shm files. Opening and closing them in this
    process would drop its POSIX locks on them (SQLite's "How To Corrupt", section 2.2): the
    next process to close the store would then take itself for the last one and delete the
    write-ahead log under this process's open connection, which goes on reading stale rows."""
    from plait.backend import close_backends

    home = tmp_path / "scanned-home"
    monkeypatch.setenv("PLAIT_HOME", str(home))
    [example] = _SecretsKit.examples
    try:
        _SecretsKit().test_secrets_encrypted_at_rest(example, home)  # saves in this process
        assert (home / "plait.db-shm").exists()  # this process's connection is open

        subprocess.run([sys.executable, "-c", READ_AND_CLOSE, str(home / "plait.db")], check=True)

        left = sorted(path.name for path in home.glob("plait.db*"))
        assert left == ["plait.db", "plait.db-shm", "plait.db-wal"], (
            "another process deleted the write-ahead log under this process's connection"
        )
        assert plait.blocks.Secret.load(SAVE_NAME).get() == "at-rest-scan-s3cr3t"
    finally:
        close_backends()
