"""Persisted results and parameters holding secrets are encrypted with the block encryption
key, whatever ``result_serializer`` says: a credentials block, a ``SecretStr`` in a dict. A
result without secrets stays plain cloudpickle. Every file written is scanned for the
secret's plaintext (UTF-8, UTF-16, base64); reading back gives equal values, in this process
and in a fresh one (a cache hit), and a missing or wrong key is named, with how to restore
it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fixtures.files import everything_said_about, files_in, holding_plaintext
from fixtures.result_secrets import TOKEN, assert_read_back, run_three
from fixtures.runs import assert_cache_hit_across_processes, run_script, write_script
from pydantic import SecretStr

from plait import StateType, flow, task
from plait.blocks import DatabaseCredentials, LocalFileSystem, Secret
from plait.exceptions import EncryptionKeyError
from plait.results import ResultRef
from plait.serializers import CloudpickleSerializer

PASSWORD = "db-pa55word-do-not-leak"
WAREHOUSE = DatabaseCredentials(driver="postgresql", host="db", user="ada", password=PASSWORD)


def home() -> Path:
    return Path(os.environ["PLAIT_HOME"])


@pytest.mark.parametrize("serializer", [None, "pickle", "cloudpickle+gzip"])
def test_results_holding_secrets_are_encrypted_in_local_storage(tmp_path, serializer):
    LocalFileSystem(basepath=str(tmp_path / "results")).save("results")

    states = run_three("local-file-system/results", WAREHOUSE, serializer)

    written = {**files_in(tmp_path / "results"), **files_in(home())}
    assert holding_plaintext(written, PASSWORD) == []
    assert holding_plaintext(written, TOKEN) == []
    for name in ("credentials_block", "settings"):
        assert states[name].result_ref.serializer.startswith("cloudpickle-encrypted")
        data = written[states[name].result_ref.path]
        assert data.startswith(b"plait:cloudpickle-encrypted")
    assert_read_back(states, WAREHOUSE)


def test_a_result_without_secrets_stays_plain_cloudpickle(tmp_path):
    LocalFileSystem(basepath=str(tmp_path / "results")).save("results")

    ref = run_three("local-file-system/results", WAREHOUSE)["rows"].result_ref

    data = (tmp_path / "results" / ref.path).read_bytes()
    assert ref.serializer == "cloudpickle"
    assert CloudpickleSerializer().loads(data) == {"rows": [1, 2, 3]}


def test_a_flow_without_secrets_does_not_import_cryptography(tmp_path, child_env):
    script = write_script(
        tmp_path,
        """
        import sys
        from plait import flow, task

        @task(persist_result=True)
        def rows(n: int) -> dict:
            return {"rows": n}

        @flow
        def nightly(n: int) -> dict:  # module-level: its parameters are kept for retries
            return rows(n)

        print(nightly(3), "cryptography" in sys.modules)
        """,
    )
    assert run_script(script, env=child_env).split()[-1] == "False"
    assert not (home() / "encryption.key").exists()


def test_json_refuses_secrets_clearly_and_writes_nothing(tmp_path):
    LocalFileSystem(basepath=str(tmp_path / "results")).save("results")

    states = run_three("local-file-system/results", WAREHOUSE, "json")

    for name, what in (("credentials_block", "'DatabaseCredentials'"), ("settings", "SecretStr'")):
        assert states[name].type is StateType.FAILED
        assert what in states[name].message
        assert "encrypts results holding secrets" in states[name].message
    assert states["rows"].result() == {"rows": [1, 2, 3]}
    written = files_in(tmp_path / "results")
    assert len(written) == 1
    assert holding_plaintext(written, PASSWORD) == []
    assert holding_plaintext(written, TOKEN) == []


def test_a_wrong_or_missing_key_names_the_key_it_needs(monkeypatch, tmp_path):
    LocalFileSystem(basepath=str(tmp_path / "results")).save("results")
    ref = ResultRef.from_json(
        run_three("local-file-system/results", WAREHOUSE)["settings"].result_ref.to_json()
    )
    key_file = home() / "encryption.key"
    needed = key_file.read_text().split()[0]
    from plait.encryption import fingerprint

    wanted = fingerprint(needed.encode())

    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    with pytest.raises(EncryptionKeyError, match=f"encrypted with key {wanted}") as wrong:
        ref.load()
    assert "Set PLAIT_ENCRYPTION_KEY to the key" in str(wrong.value)

    monkeypatch.delenv("PLAIT_ENCRYPTION_KEY")
    key_file.unlink()
    with pytest.raises(EncryptionKeyError, match=f"encrypted with key {wanted}") as missing:
        ref.load()
    assert "Restore encryption.key in PLAIT_HOME from your backup" in str(missing.value)
    for error in (wrong.value, missing.value):
        assert TOKEN not in everything_said_about(error)

    @task(persist_result=True, result_storage="local-file-system/results")
    def settings() -> dict:
        return {"token": SecretStr(TOKEN)}

    @flow
    def again() -> Any:
        return settings()

    state = again(return_state=True)  # saved blocks need the lost key: none is made for this
    assert state.type is StateType.FAILED
    assert "Restore encryption.key" in state.message
    assert not key_file.exists()


def test_parameters_holding_secrets_are_encrypted_and_others_are_not(tmp_path, child_env):
    script = write_script(
        tmp_path,
        f"""
        from pydantic import SecretStr
        from plait import flow

        @flow
        def load(user: str, token: SecretStr) -> int:
            return len(token.get_secret_value())

        @flow
        def count(rows: int) -> int:
            return rows

        print(load("ada", SecretStr({TOKEN!r})), count(3))
        """,
    )
    assert run_script(script, env=child_env).split() == [str(len(TOKEN)), "3"]

    stored = files_in(home() / "results" / "parameters")
    assert sorted(data.split(b"\n")[0] for data in stored.values()) == [
        b"plait:cloudpickle",
        b"plait:cloudpickle-encrypted",
    ]
    assert holding_plaintext(files_in(home()), TOKEN) == []


def test_a_cache_hit_in_a_fresh_process_returns_the_secret(tmp_path, child_env):
    Secret(value=TOKEN).save("api")
    source = f"""
        import sys
        from plait import flow, task
        from plait.blocks import Secret

        @task(cache_policy="inputs")
        def fetch(name: str) -> Secret:
            with open(sys.argv[1], "a") as executions:
                executions.write("ran\\n")
            return Secret.load(name)

        @flow
        def pipeline() -> None:
            state = fetch("api", return_state=True)
            print(state.name, state.result().get() == {TOKEN!r}, flush=True)

        pipeline()
        """

    assert_cache_hit_across_processes(tmp_path, child_env, source=source, printed="True")
    assert holding_plaintext(files_in(home()), TOKEN) == []
