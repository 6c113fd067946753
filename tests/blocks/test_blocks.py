"""The Block model and saved documents: save/load, versions, nested references, schema
evolution, and the standard credentials and storage blocks."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from plait import flow
from plait.blocks import (
    Block,
    CredentialsBlock,
    LocalFileSystem,
    Secret,
    SecretDict,
    WritableFileSystem,
)
from plait.blocks.block import CheckResult
from plait.exceptions import BlockError, BlockNotFoundError, BlockValidationError


class ServiceCredentials(CredentialsBlock):
    """Credentials for a test service."""

    _documentation_url = "https://example.com/docs/service"

    user: str
    password: SecretStr
    options: SecretDict = SecretDict({})

    def check(self) -> CheckResult:
        return CheckResult(True, "fine", 0.0)


class ServiceBucket(Block):
    """A bucket on the test service, holding its credentials."""

    bucket: str
    credentials: ServiceCredentials


def credentials(password: str = "hunter2-pw") -> ServiceCredentials:
    return ServiceCredentials(user="ada", password=password, options={"token": "tok-123"})


def test_block_type_describes_itself():
    assert ServiceCredentials.get_block_type_slug() == "service-credentials"
    assert ServiceCredentials.get_description() == "Credentials for a test service."
    assert ServiceCredentials.get_documentation_url() == "https://example.com/docs/service"
    assert 'ServiceCredentials.load("BLOCK_NAME")' in ServiceCredentials.get_code_example()
    schema = ServiceCredentials.get_block_schema()
    assert set(schema["properties"]) == {"user", "password", "options"}
    assert schema["secret_fields"] == ["options", "password"]
    assert schema["block_type_slug"] == "service-credentials"
    assert ServiceCredentials.get_capabilities() == ["check"]
    assert LocalFileSystem.get_capabilities() == ["read-path", "write-path"]


def test_slug_can_be_overridden():
    class Renamed(Block):
        """Renamed."""

        _block_type_slug = "custom-slug"

        value: int

    assert Renamed.get_block_type_slug() == "custom-slug"
    Renamed(value=3).save("x")
    assert Block.load("custom-slug/x") == Renamed(value=3)


def _schema_checksum_of(order: list[str]) -> str:
    fields: dict[str, Any] = {"a": str, "b": int, "c": SecretStr}
    namespace = {"__annotations__": {name: fields[name] for name in order}, "__doc__": "Same."}
    namespace["_block_type_slug"] = "field-order"
    return type("FieldOrder", (Block,), namespace).get_schema_checksum()


def test_schema_checksum_does_not_depend_on_field_order():
    assert _schema_checksum_of(["a", "b", "c"]) == _schema_checksum_of(["c", "a", "b"])
    assert _schema_checksum_of(["a", "b", "c"]).startswith("sha256:")


def test_secrets_are_masked_in_repr_str_dumps_and_errors():
    block = credentials()
    for text in (repr(block), str(block), str(block.model_dump()), block.model_dump_json()):
        assert "hunter2-pw" not in text
        assert "tok-123" not in text
    with pytest.raises(ValidationError) as caught:
        ServiceCredentials(user="ada", password=987654321)
    assert "987654321" not in str(caught.value)
    assert "password" in str(caught.value)


def test_save_load_round_trip_and_overwrite(backend_mode):
    assert credentials().save("prod") == 1
    loaded = ServiceCredentials.load("prod")
    assert loaded == credentials()
    assert loaded.password.get_secret_value() == "hunter2-pw"
    assert loaded.options.get_secret_value() == {"token": "tok-123"}
    with pytest.raises(BlockError, match="already exists; pass overwrite=True"):
        credentials().save("prod")
    assert credentials("second-pw").save("prod", overwrite=True) == 2
    assert ServiceCredentials.load("prod").password.get_secret_value() == "second-pw"
    assert ServiceCredentials.load("prod", version=1).password.get_secret_value() == "hunter2-pw"
    assert ServiceCredentials.list() == ["prod"]
    assert "service-credentials/prod" in Block.list()


def test_load_by_slug_dispatches_to_the_registered_class(backend_mode):
    credentials().save("prod")
    loaded = Block.load("service-credentials/prod")
    assert type(loaded) is ServiceCredentials
    assert CredentialsBlock.load("service-credentials/prod") == loaded
    with pytest.raises(BlockError, match="needs 'slug/name'"):
        CredentialsBlock.load("prod")
    with pytest.raises(BlockError, match="is a ServiceCredentials, which is not a Writable"):
        WritableFileSystem.load("service-credentials/prod")


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("missing", BlockNotFoundError, "No saved block service-credentials/missing"),
        ("bad name!", BlockError, "Block name 'bad name!' is not valid"),
        ("../etc", BlockError, r"Block name '\.\./etc' is not valid: give 'slug/name'"),
        ("a/b/c", BlockError, r"Block name 'a/b/c' is not valid: give 'slug/name'"),
    ],
)
def test_bad_names_give_clear_errors(name, error, message):
    with pytest.raises(error, match=message):
        ServiceCredentials.load(name)


def test_unknown_slug_lists_the_known_types():
    with pytest.raises(BlockNotFoundError, match="No block type 'nope' is installed") as caught:
        Block.load("nope/prod")
    assert "secret" in str(caught.value)


def test_asking_for_a_version_that_does_not_exist(backend_mode):
    credentials().save("prod")
    with pytest.raises(BlockNotFoundError, match="has no version 4; it has versions 1 to 1"):
        ServiceCredentials.load("prod", version=4)


def test_async_twins_and_sync_calls_in_async_code():
    async def main() -> tuple[Any, Any, int]:
        version = await credentials().asave("prod")
        in_async = ServiceCredentials.load("prod")  # a sync call never returns a coroutine
        return in_async, await ServiceCredentials.aload("prod"), version

    in_async, awaited, version = asyncio.run(main())
    assert version == 1
    assert in_async == awaited == credentials()


def test_blocks_load_inside_flows():
    credentials().save("prod")

    @flow
    def uses_credentials() -> str:
        return ServiceCredentials.load("prod").user

    @flow
    async def uses_credentials_async() -> str:
        return (await ServiceCredentials.aload("prod")).user

    assert uses_credentials() == "ada"
    assert asyncio.run(uses_credentials_async()) == "ada"


def test_a_nested_saved_block_is_a_reference(backend_mode):
    credentials("first-pw").save("prod")
    ServiceBucket(bucket="raw", credentials=ServiceCredentials.load("prod")).save("raw")
    ServiceBucket(bucket="clean", credentials=ServiceCredentials.load("prod")).save("clean")
    credentials("rotated-pw").save("prod", overwrite=True)
    for name in ("raw", "clean"):
        password = ServiceBucket.load(name).credentials.password.get_secret_value()
        assert password == "rotated-pw"
    with pytest.raises(BlockError, match="used by service-bucket/clean, service-bucket/raw"):
        ServiceCredentials.delete("prod")
    assert ServiceCredentials.load("prod").password.get_secret_value() == "rotated-pw"


def test_a_changed_nested_block_must_be_saved_first(backend_mode):
    credentials().save("prod")
    nested = ServiceCredentials.load("prod")
    nested.user = "grace"
    with pytest.raises(BlockError, match=r"changed since it was loaded\. Save it first"):
        ServiceBucket(bucket="raw", credentials=nested).save("raw")
    nested.save("prod", overwrite=True)
    ServiceBucket(bucket="raw", credentials=nested).save("raw")
    assert ServiceBucket.load("raw").credentials.user == "grace"


def test_an_unsaved_nested_block_is_owned_by_its_parent(backend_mode):
    from plait.backend import get_backend

    ServiceBucket(bucket="raw", credentials=credentials("one-pw")).save("raw")
    ServiceBucket(bucket="raw", credentials=credentials("two-pw")).save("raw", overwrite=True)
    documents = get_backend().block_documents().list(include_anonymous=True)
    anonymous = [d for d in documents if d.is_anonymous]
    assert len(anonymous) == 1, "re-saving the parent adds a version to the same nested document"
    assert anonymous[0].version == 2
    assert ServiceCredentials.list() == []
    assert ServiceBucket.load("raw", version=1).credentials.password.get_secret_value() == "two-pw"
    ServiceBucket.delete("raw")
    assert get_backend().block_documents().list(include_anonymous=True) == []


def test_deleting_a_block_removes_every_version(backend_mode):
    credentials().save("prod")
    credentials().save("prod", overwrite=True)
    ServiceCredentials.delete("prod")
    with pytest.raises(BlockNotFoundError):
        ServiceCredentials.load("prod")
    with pytest.raises(BlockNotFoundError):
        ServiceCredentials.delete("prod")


def _define_settings_block(version: int, field: str, annotation: Any, migrate: Any = None) -> type:
    namespace: dict[str, Any] = {
        "__annotations__": {field: annotation},
        "__doc__": "Evolving settings.",
        "_block_type_slug": "evolving-settings",
        "_block_schema_version": version,
    }
    if migrate is not None:
        namespace["migrate"] = classmethod(migrate)
    return type("EvolvingSettings", (Block,), namespace)


def test_a_migration_upgrades_old_documents_on_load(backend_mode):
    v1 = _define_settings_block(1, "hostname", str)
    v1(hostname="db.internal").save("main")

    def rename_hostname(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        assert from_version == 1
        return {"host": data.pop("hostname")}

    v2 = _define_settings_block(2, "host", str, rename_hostname)
    assert v2.load("main").host == "db.internal"
    v2(host="db2.internal").save("main", overwrite=True)
    with pytest.raises(BlockError, match="schema version 2 of EvolvingSettings, newer than"):
        v1.load("main")


def test_a_document_that_no_longer_fits_names_the_field():
    _define_settings_block(1, "port", str)(port="not-a-number").save("main")
    v2 = _define_settings_block(2, "port", int)
    with pytest.raises(BlockValidationError) as caught:
        v2.load("main")
    message = str(caught.value)
    assert "evolving-settings/main" in message
    assert "port: Input should be a valid integer" in message
    assert "the saved value is a str" in message
    assert "not-a-number" not in message


def test_a_missing_required_field_is_reported_not_half_built():
    _define_settings_block(1, "host", str)(host="h").save("main")
    v2 = _define_settings_block(2, "port", int)
    with pytest.raises(BlockValidationError) as caught:
        v2.load("main")
    assert "port: required, but the saved document has no value for it" in str(caught.value)
    assert "host: in the saved document, but EvolvingSettings has no such field" in str(
        caught.value
    )


def test_secret_block_holds_a_string_or_json():
    Secret(value="s3cr3t-token").save("token")
    Secret(value={"user": "ada", "passwords": ["a1", "b2"]}).save("json")
    assert Secret.load("token").get() == "s3cr3t-token"
    assert Secret.load("json").get() == {"user": "ada", "passwords": ["a1", "b2"]}
    assert "s3cr3t" not in repr(Secret.load("token"))
    result = Secret.load("token").check()
    assert result.ok, result.message
    assert not Secret(value="unsaved").check().ok


def test_local_file_system_reads_writes_and_lists(tmp_path):
    fs = LocalFileSystem(basepath=str(tmp_path / "files"))
    written = fs.write_path("daily/2026-11-24.csv", b"id\n1\n")
    assert written == str(tmp_path / "files" / "daily" / "2026-11-24.csv")
    fs.write_path("daily/2026-11-24.csv", b"id\n2\n")
    fs.write_path("top.txt", b"x")
    assert fs.read_path("daily/2026-11-24.csv") == b"id\n2\n"
    assert fs.exists("top.txt")
    assert not fs.exists("nope.txt")
    assert fs.list() == ["daily/2026-11-24.csv", "top.txt"]
    assert fs.list("daily") == ["daily/2026-11-24.csv"]
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        fs.read_path("nope.txt")
    fs.save("exports")
    assert LocalFileSystem.list() == ["exports"]  # on the class: saved blocks
    assert LocalFileSystem.load("exports").list() == fs.list()  # on an instance: files


def test_local_file_system_refuses_paths_outside_its_base(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("no")
    fs = LocalFileSystem(basepath=str(tmp_path / "base"))
    os.makedirs(fs.basepath)
    os.symlink(tmp_path / "outside", tmp_path / "base" / "link")
    for path in ("../outside/secret.txt", str(tmp_path / "outside" / "secret.txt"), "link/x"):
        with pytest.raises(BlockError, match="leaves the base path"):
            fs.read_path(path)
        with pytest.raises(BlockError, match="leaves the base path"):
            fs.write_path(path, b"x")
    assert (tmp_path / "outside" / "secret.txt").read_text() == "no"
    with pytest.raises(ValidationError, match="basepath"):
        LocalFileSystem(basepath=" ")


def test_interfaces_cannot_be_saved():
    with pytest.raises(TypeError, match="abstract"):
        WritableFileSystem()


def test_concurrent_saves_number_versions_without_gaps_or_losses(store_url):
    from concurrent.futures import ThreadPoolExecutor

    from plait.backend import get_backend

    credentials("v0").save("prod")

    def save_five(worker: int) -> list[int]:
        return [credentials(f"w{worker}-{i}").save("prod", overwrite=True) for i in range(5)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = sorted(n for saved in pool.map(save_five, range(6)) for n in saved)
    assert numbers == list(range(2, 32))
    history = get_backend().block_documents().history("service-credentials", "prod")
    assert [stored.version for stored in history] == list(range(1, 32))
    saved_passwords = {stored.secrets['["password"]']["value"] for stored in history}
    assert saved_passwords == {"v0"} | {f"w{w}-{i}" for w in range(6) for i in range(5)}
