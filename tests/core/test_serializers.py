"""Result serializers: round trips, headers, compression, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import BaseModel, Field

from plait.exceptions import EncryptionKeyError, InvalidOptionError, PlaitError, SerializationError
from plait.serializers import (
    COMPRESSIONS,
    SERIALIZERS,
    CloudpickleSerializer,
    JsonSerializer,
    PickleSerializer,
    Serializer,
    loads_any,
    resolve_serializer,
)


class Point(BaseModel):
    x: int
    y: int


class Reading(BaseModel):
    sensor_id: str = Field(alias="sensorId")
    taken_at: datetime
    where: Point
    tags: set[str] = set()


READING = Reading(
    sensorId="s-1",
    taken_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    where=Point(x=1, y=2),
    tags={"hot"},
)

# Values every serializer must bring back equal and of the same types.
VALUE = {
    "rows": [{"id": 1, "name": "Zoë ☃", "score": 0.5, "ok": True, "missing": None}],
    "when": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
    "naive": datetime(2024, 5, 1, 12, 30),
    "day": date(2024, 5, 1),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "amount": Decimal("10.10"),
    "path": Path("/data/out.csv"),
    "labels": {"a", "b"},
    "frozen": frozenset({1, 2}),
    "pair": (1, ("nested", [2.5])),
    "blob": b"\x00\xffbinary",
    "reading": READING,
    "$type": "a user key that looks like a tag",
}


def _assert_same(loaded, expected):
    """Equal, and of exactly the same types all the way down (a tuple must not become a list)."""
    assert type(loaded) is type(expected)
    assert loaded == expected
    if isinstance(expected, dict):
        for key in expected:
            _assert_same(loaded[key], expected[key])
    elif isinstance(expected, list | tuple):
        for item, expected_item in zip(loaded, expected, strict=True):
            _assert_same(item, expected_item)


@pytest.mark.parametrize("compression", [None, *COMPRESSIONS])
@pytest.mark.parametrize("name", list(SERIALIZERS))
def test_round_trip_for_every_serializer_and_compression(name, compression):
    serializer = SERIALIZERS[name](compression=compression)
    data = serializer.dumps(VALUE)

    assert isinstance(data, bytes)
    expected_header = f"plait:{name}:{compression}\n" if compression else f"plait:{name}\n"
    assert data.startswith(expected_header.encode())
    _assert_same(serializer.loads(data), VALUE)
    _assert_same(loads_any(data), VALUE)


@pytest.mark.parametrize("compression", [None, *COMPRESSIONS])
def test_compression_shrinks_a_repetitive_megabyte(compression):
    payload = "timestamp,sensor,value\n" * (1_000_000 // 23)
    plain = PickleSerializer().dumps(payload)
    assert len(plain) > 1_000_000

    packed = PickleSerializer(compression=compression).dumps(payload)

    if compression:
        assert len(packed) < len(plain) / 50
    assert loads_any(packed) == payload


def test_json_writes_tagged_types_readably():
    data = JsonSerializer().dumps({"at": datetime(2024, 5, 1, tzinfo=UTC), "pair": (1, 2)})

    assert data == (
        b'plait:json\n{"at":{"$type":"datetime","value":"2024-05-01T00:00:00+00:00"},'
        b'"pair":{"$type":"tuple","value":[1,2]}}'
    )


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        date(2024, 5, 1),
        UUID("12345678-1234-5678-1234-567812345678"),
        Decimal("0.1"),
        Path("relative/file.txt"),
        {1, "two"},
        frozenset({"x"}),
        (),
        (1, (2, (3,))),
        b"",
        "\ud800 lone surrogate",
        {"$type": "date", "value": "not a tag"},
        [{"$type": {"$type": "tuple"}}],
    ],
    ids=lambda value: repr(sorted(value, key=repr) if isinstance(value, set) else value),
)
def test_json_round_trips_tagged_types(value):
    serializer = JsonSerializer()
    _assert_same(serializer.loads(serializer.dumps(value)), value)


def test_json_brings_pydantic_models_back_as_their_class():
    serializer = JsonSerializer(compression="gzip")

    loaded = serializer.loads(serializer.dumps([READING, {"point": Point(x=3, y=4)}]))

    assert loaded == [READING, {"point": Point(x=3, y=4)}]
    assert type(loaded[0]) is Reading
    assert type(loaded[0].where) is Point
    assert loaded[0].taken_at == READING.taken_at


def test_json_stores_a_model_by_its_import_path_and_aliases():
    body = JsonSerializer().dumps(Point(x=1, y=2)).split(b"\n", 1)[1]
    written = json.loads(body)

    assert written == {
        "$type": "pydantic",
        "class": f"{Point.__module__}:Point",
        "value": {"x": 1, "y": 2},
    }
    reading = json.loads(JsonSerializer().dumps(READING).split(b"\n", 1)[1])
    assert reading["value"]["sensorId"] == "s-1"


def test_json_refuses_a_model_it_could_not_import_back():
    class Local(BaseModel):
        x: int

    with pytest.raises(SerializationError, match=r"pydantic model '.*Local'.*module level"):
        JsonSerializer().dumps({"m": Local(x=1)})


def test_json_names_the_unsupported_type_and_where_it_is():
    lock = threading.Lock()

    with pytest.raises(SerializationError) as caught:
        JsonSerializer().dumps({"db": [{"conn": lock}]})

    message = str(caught.value)
    lock_type = f"{type(lock).__module__}.{type(lock).__qualname__}"  # '_thread.lock' on 3.11
    assert f"a value of type '{lock_type}'" in message
    assert "(at result['db'][0]['conn'])" in message
    assert "use result_serializer='cloudpickle'" in message
    assert isinstance(caught.value, PlaitError)
    assert isinstance(caught.value, ValueError)


def test_json_error_for_a_top_level_value_has_no_path():
    with pytest.raises(SerializationError) as caught:
        JsonSerializer().dumps(object())

    assert str(caught.value).startswith("json cannot serialize a value of type 'object';")


def test_json_requires_string_keys():
    with pytest.raises(
        SerializationError, match=r"dict key 1 of type 'int' \(at result\['by_id'\]\)"
    ):
        JsonSerializer().dumps({"by_id": {1: "a"}})


def test_json_refuses_a_value_that_contains_itself():
    looped: list = []
    looped.append(looped)

    with pytest.raises(SerializationError, match="nested too deeply or contains itself"):
        JsonSerializer().dumps(looped)


def test_pickle_suggests_cloudpickle_for_a_local_lambda_which_cloudpickle_stores():
    offset = 10
    add = lambda x: x + offset  # noqa: E731

    with pytest.raises(SerializationError) as caught:
        PickleSerializer().dumps({"fn": add})
    assert str(caught.value).startswith("pickle cannot serialize the result (")
    assert "use result_serializer='cloudpickle'" in str(caught.value)
    assert caught.value.__cause__ is not None

    loaded = loads_any(CloudpickleSerializer().dumps({"fn": add}))
    assert loaded["fn"](1) == 11


def test_cloudpickle_explains_values_nothing_can_pickle():
    with pytest.raises(SerializationError, match=r"cannot pickle '_thread.lock'.*live resources"):
        CloudpickleSerializer().dumps(threading.Lock())


def test_loads_refuses_data_written_by_another_serializer():
    data = PickleSerializer().dumps([1, 2])

    with pytest.raises(SerializationError, match="written by the 'pickle' serializer, not 'json'"):
        JsonSerializer().loads(data)


def test_loads_follows_the_header_when_compression_differs():
    data = JsonSerializer(compression="lzma").dumps({"a": 1})

    assert JsonSerializer().loads(data) == {"a": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"not a stored Plait result.*starts with b''"),
        (b'{"a": 1}', r"not a stored Plait result.*starts with b'\{\"a\": 1\}'"),
        (b"plait:json", "not a stored Plait result"),
        (b"plait:json:gzip:extra\n{}", "not a stored Plait result"),
        (b"plait:\xffjson\n{}", "not a stored Plait result"),
        (
            b"plait:yaml\na: 1",
            r"unknown serializer 'yaml' \(known: 'pickle', 'cloudpickle', "
            r"'cloudpickle-encrypted', 'json'\)",
        ),
        (b"plait:json:zip\n{}", r"unknown compression 'zip'"),
        (b"plait:json:gzip\nnot gzip at all", r"could not be decompressed with gzip"),
        (b"plait:json\n{not json", r"json could not load the stored data \(JSONDecodeError"),
        (b"plait:pickle\n\x80\x05truncated", r"pickle could not load the stored data"),
        (b'plait:json\n{"$type":"matrix","value":1}', r"unknown '\$type' tag 'matrix'"),
        (
            b'plait:json\n{"$type":"pydantic","class":"json:dumps","value":{}}',
            r"names 'json:dumps' as a pydantic model, but it is not one",
        ),
        ("plait:json\n{}", "stored data must be bytes, not 'str'"),
    ],
)
def test_loads_any_explains_garbled_data(data, message):
    with pytest.raises(SerializationError, match=message):
        loads_any(data)


def test_truncated_compressed_data_is_reported():
    data = PickleSerializer(compression="zlib").dumps(list(range(1000)))

    with pytest.raises(SerializationError, match="could not be decompressed with zlib"):
        loads_any(data[:-10])


@pytest.mark.parametrize(
    ("value", "expected_type", "compression"),
    [
        ("pickle", PickleSerializer, None),
        ("cloudpickle", CloudpickleSerializer, None),
        ("json", JsonSerializer, None),
        ("json+gzip", JsonSerializer, "gzip"),
        ("pickle+lzma", PickleSerializer, "lzma"),
        ("cloudpickle+bz2", CloudpickleSerializer, "bz2"),
    ],
)
def test_resolve_serializer_by_name(value, expected_type, compression):
    serializer = resolve_serializer(value, "Task 'transform'")

    assert type(serializer) is expected_type
    assert serializer.compression == compression


def test_resolve_serializer_keeps_an_instance():
    serializer = JsonSerializer(compression="zlib")

    assert resolve_serializer(serializer, "Task 'transform'") is serializer


@pytest.mark.parametrize("value", ["yaml", "json+zip", 42, "json+", "JSON", None])
def test_resolve_serializer_rejects_bad_input(value):
    with pytest.raises(InvalidOptionError) as caught:
        resolve_serializer(value, "Task 'transform'")

    message = str(caught.value)
    assert message.startswith("Task 'transform': result_serializer must be")
    assert f"got {value!r}." in message
    assert "'pickle', 'cloudpickle', 'cloudpickle-encrypted', 'json'" in message
    assert "'gzip', 'zlib', 'bz2', 'lzma'" in message


def test_a_bad_compression_is_refused_when_the_serializer_is_made():
    with pytest.raises(InvalidOptionError, match=r"JsonSerializer: compression must be .*'zip'"):
        JsonSerializer(compression="zip")


def test_a_custom_serializer_gets_header_and_compression_from_the_base_class():
    class Utf8Serializer(Serializer):
        name = "utf8"

        def encode(self, value):
            return value.encode()

        def decode(self, body):
            return body.decode()

    serializer = Utf8Serializer(compression="gzip")
    data = serializer.dumps("héllo" * 100)

    assert data.startswith(b"plait:utf8:gzip\n")
    assert serializer.loads(data) == "héllo" * 100
    assert repr(serializer) == "Utf8Serializer(compression='gzip')"


def _run(code: str) -> object:
    output = subprocess.run(
        [sys.executable, "-c", f"import sys, json; {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout)


def test_importing_serializers_loads_no_pydantic_cloudpickle_or_compression():
    heavy = ("pydantic", "cloudpickle", "lzma", "bz2", "gzip")

    loaded = _run(
        "import plait.serializers; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))"
    )

    assert loaded == []


def test_import_plait_does_not_import_serializers():
    assert _run("import plait; print(json.dumps('plait.serializers' in sys.modules))") is False


def test_encrypted_cloudpickle_hides_the_value_and_needs_the_same_key(monkeypatch):
    from cryptography.fernet import Fernet

    from plait.encryption import fingerprint

    key = Fernet.generate_key()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", key.decode())
    data = resolve_serializer("cloudpickle-encrypted", "flow parameters").dumps({"pw": "s3cr3t"})

    assert data.startswith(f"plait:cloudpickle-encrypted\n{fingerprint(key)}:".encode())
    assert b"s3cr3t" not in data
    assert loads_any(data) == {"pw": "s3cr3t"}
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    with pytest.raises(
        EncryptionKeyError,
        match=f"Cannot decrypt the secrets of a stored result: they were encrypted with key "
        f"{fingerprint(key)}",
    ):
        loads_any(data)


def test_data_encrypted_before_fingerprints_were_written_still_loads(monkeypatch):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", key.decode())
    token = Fernet(key).encrypt(CloudpickleSerializer().encode({"pw": "s3cr3t"}))

    assert loads_any(b"plait:cloudpickle-encrypted\n" + token) == {"pw": "s3cr3t"}


@pytest.mark.parametrize("name", ["pickle", "cloudpickle", "pickle+gzip"])
def test_pickling_serializers_encrypt_values_holding_secrets(monkeypatch, name):
    from cryptography.fernet import Fernet
    from pydantic import Secret, SecretBytes, SecretStr

    from plait.blocks.fields import SecretDict

    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    serializer = resolve_serializer(name, "test")
    for secret in (SecretStr("s3cr3t"), SecretBytes(b"s3cr3t"), SecretDict({"k": "s3cr3t"}),
                   Secret[int](731337)):  # fmt: skip
        data = serializer.dumps([1, {"nested": (secret,)}])

        assert data.startswith(b"plait:cloudpickle-encrypted")
        assert b"s3cr3t" not in data
        back = loads_any(data)[1]["nested"][0]
        assert back.get_secret_value() == secret.get_secret_value()
    plain_header = f"plait:{name}".replace("+", ":").encode()
    assert serializer.dumps({"plain": "text"}).startswith(plain_header)


def test_secrets_are_noticed_among_classes_functions_and_enums_pickled_by_value(monkeypatch):
    from cryptography.fernet import Fernet
    from pydantic import SecretStr

    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", Fernet.generate_key().decode())

    def local_model() -> type[BaseModel]:
        class Login(BaseModel):
            password: SecretStr
            at: datetime

        return Login

    login = local_model()
    value = {
        "class": login,
        "login": login(password="s3cr3t", at=datetime(2026, 1, 1, tzinfo=UTC)),
        "function": lambda x: x + 1,
        "type": type,
        "base": BaseModel,
    }
    data = CloudpickleSerializer().dumps(value)

    assert data.startswith(b"plait:cloudpickle-encrypted")
    assert b"s3cr3t" not in data
    back = loads_any(data)
    assert back["login"].password.get_secret_value() == "s3cr3t"
    assert back["function"](1) == 2
