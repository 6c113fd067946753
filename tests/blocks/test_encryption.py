"""Secrets at rest: encrypted in the store with a key kept apart from it, rotation without
losing any document, and clear errors for a missing, malformed or wrong key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fixtures.files import database_bytes
from pydantic import SecretBytes, SecretStr

from plait.backend import get_backend
from plait.blocks import Block, SecretDict
from plait.encryption import fingerprint
from plait.exceptions import EncryptionKeyError
from plait.settings import load_settings
from plait.store.database import close_databases

PASSWORD = "correct-horse-battery-staple"
TOKEN = "header-token-6f1d2"
CERT = b"-----BEGIN PRIVATE KEY----- raw-bytes-9a7c"


class VaultCredentials(Block):
    """Credentials with every kind of secret field."""

    user: str
    password: SecretStr
    headers: SecretDict
    certificate: SecretBytes


def vault(password: str = PASSWORD) -> VaultCredentials:
    return VaultCredentials(
        user="ada", password=password, headers={"X-Token": TOKEN}, certificate=CERT
    )


def key_file() -> Path:
    return load_settings().home / "encryption.key"


def test_secrets_are_encrypted_in_the_raw_database():
    vault().save("prod")
    vault("second-" + PASSWORD).save("prod", overwrite=True)
    raw = database_bytes()
    assert b"ada" in raw, "plain fields are stored as they are"
    for secret in (PASSWORD.encode(), TOKEN.encode(), CERT, b"cmF3LWJ5dGVzLTlhN2M"):
        assert secret not in raw
    assert key_file().read_bytes().strip() not in raw, "the key is never in the database"
    loaded = VaultCredentials.load("prod", version=1)
    assert loaded == vault()
    assert loaded.certificate.get_secret_value() == CERT


def test_the_key_file_is_created_on_first_use_with_mode_0600():
    assert not key_file().exists()
    vault().save("prod")
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    Fernet(key_file().read_bytes().strip())  # a valid key


def test_a_lost_key_file_is_never_replaced_while_saved_secrets_need_it():
    from typer.testing import CliRunner

    from plait.cli import app

    vault().save("prod")
    needed = fingerprint(key_file().read_bytes().strip())
    backup = key_file().read_bytes()
    key_file().unlink()

    inspected = CliRunner().invoke(app, ["block", "inspect", "vault-credentials/prod"])
    assert not key_file().exists(), "a read-only command made no key"
    assert inspected.exit_code == 1
    assert needed in inspected.output
    assert "Restore encryption.key in PLAIT_HOME from your backup" in inspected.output
    with pytest.raises(EncryptionKeyError, match=f"encrypted with key {needed}"):
        VaultCredentials.load("prod")
    with pytest.raises(EncryptionKeyError, match=f"Saved blocks are encrypted with key {needed}"):
        vault().save("other")
    with pytest.raises(EncryptionKeyError, match="Cannot rotate the key"):
        get_backend().block_documents().rotate_key()
    assert not key_file().exists(), "no command made a new key"

    key_file().write_bytes(backup)
    key_file().chmod(0o600)
    assert VaultCredentials.load("prod") == vault()


def test_blocks_without_secrets_need_no_key_file():
    from plait.blocks import LocalFileSystem

    LocalFileSystem(basepath="/tmp/data").save("data")
    assert LocalFileSystem.load("data").basepath == "/tmp/data"
    assert not key_file().exists()


def test_a_key_file_others_can_read_is_refused():
    vault().save("prod")
    key_file().chmod(0o644)
    with pytest.raises(EncryptionKeyError, match=r"can be read by other users.*chmod 600"):
        VaultCredentials.load("prod")


def test_the_environment_key_is_used_and_no_key_file_is_made(monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", key)
    vault().save("prod")
    assert not key_file().exists()
    assert VaultCredentials.load("prod") == vault()


def test_a_wrong_key_is_a_clear_error_and_loses_nothing(monkeypatch):
    right = Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", right)
    vault().save("prod")
    wrong = Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", wrong)
    with pytest.raises(EncryptionKeyError) as caught:
        VaultCredentials.load("prod")
    message = str(caught.value)
    assert "vault-credentials/prod" in message
    assert fingerprint(right.encode()) in message
    assert fingerprint(wrong.encode()) in message
    assert right not in message
    assert wrong not in message
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", right)
    assert VaultCredentials.load("prod") == vault()


@pytest.mark.parametrize(
    "bad_key",
    ["not-a-key", "", "   ,  ", Fernet.generate_key().decode()[:-4] + "!!!!"],
    ids=["not-base64", "empty", "only-commas", "bad-padding"],  # stable ids for pytest-xdist
)
def test_a_malformed_key_names_its_source(monkeypatch, bad_key):
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", bad_key)
    with pytest.raises(EncryptionKeyError, match="env PLAIT_ENCRYPTION_KEY") as caught:
        vault().save("prod")
    assert "url-safe base64" in str(caught.value)
    if bad_key.strip(" ,"):
        assert bad_key not in str(caught.value)


def test_a_corrupted_key_file_names_the_file():
    vault().save("prod")
    key_file().write_text("garbage\n")
    with pytest.raises(
        EncryptionKeyError, match=r"Key 1 of 1 from .*encryption.key is not a valid key"
    ):
        VaultCredentials.load("prod")


def test_rotating_the_key_file_re_encrypts_every_version(store_url):
    vault().save("prod")
    vault("second-" + PASSWORD).save("prod", overwrite=True)
    VaultCredentials(user="b", password="p", headers={}, certificate=b"c").save("other")
    old_key = key_file().read_bytes().strip()
    count, keyring = get_backend().block_documents().rotate_key()
    assert count == 3
    new_key = key_file().read_bytes().strip()
    assert new_key != old_key
    assert keyring.current_fingerprint == fingerprint(new_key)
    assert len(key_file().read_text().split()) == 1, "the old key is dropped after rotating"
    close_databases()
    assert VaultCredentials.load("prod", version=1) == vault()
    assert VaultCredentials.load("prod").password.get_secret_value() == "second-" + PASSWORD
    os.environ["PLAIT_ENCRYPTION_KEY"] = old_key.decode()
    try:
        with pytest.raises(EncryptionKeyError):
            VaultCredentials.load("prod")
    finally:
        del os.environ["PLAIT_ENCRYPTION_KEY"]


def test_rotating_an_environment_key_needs_the_new_key_first(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", old)
    vault().save("prod")
    with pytest.raises(EncryptionKeyError, match=r"holds one key\. To rotate, set it to"):
        get_backend().block_documents().rotate_key()
    assert VaultCredentials.load("prod") == vault(), "a refused rotation changes nothing"
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", f"{new},{old}")
    assert get_backend().block_documents().rotate_key()[0] == 1
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", new)
    assert VaultCredentials.load("prod") == vault()


def test_rotation_that_cannot_decrypt_everything_changes_nothing(monkeypatch):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", first)
    vault().save("a")
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", second)
    vault().save("b")
    third = Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", f"{third},{second}")
    with pytest.raises(EncryptionKeyError, match="vault-credentials/a' "):
        get_backend().block_documents().rotate_key()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", second)
    assert VaultCredentials.load("b") == vault(), "b was not moved to the third key"
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", first)
    assert VaultCredentials.load("a") == vault()


def test_secrets_never_reach_run_parameters_logs_or_tracebacks(store):
    from plait import flow, get_run_logger, task

    @task
    def connect(credentials: VaultCredentials) -> None:
        get_run_logger().info("connecting with %s", credentials)
        raise ConnectionError(f"refused for {credentials!r}")

    @flow(log_prints=True)
    def uses_a_block(credentials: VaultCredentials) -> None:
        print(credentials)
        connect(credentials)

    vault().save("prod")
    state = uses_a_block(VaultCredentials.load("prod"), return_state=True)
    assert state.is_failed()
    store.writer.flush()
    [run] = store.client.read_flow_runs()
    logs = "\n".join(line.message for line in store.client.read_logs(run.id))
    assert "**********" in logs
    assert "**********" in str(run.parameters)
    for text in (logs, str(run.parameters), str(state.message)):
        assert PASSWORD not in text
        assert TOKEN not in text
    if store.url.startswith("sqlite"):  # every byte written, tracebacks and parameters included
        raw = database_bytes()
        for secret in (PASSWORD.encode(), TOKEN.encode(), CERT):
            assert secret not in raw
