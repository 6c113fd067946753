"""SnowflakeCredentials: exactly one way to authenticate, key pairs loaded (and decrypted)
with cryptography, secrets kept out of reprs and messages, and check() against a real
fakesnow server, or a closed port."""

from __future__ import annotations

import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from plait_snowflake import SnowflakeCredentials, SnowflakeError

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PASSWORD = "pa55-w0rd-4b7e19"
TOKEN = "oauth-t0ken-c2d8f1"
PASSPHRASE = "key-pa55phrase-90ae"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, passphrase: str | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def validation_message(**fields) -> str:
    with pytest.raises(ValidationError) as raised:
        SnowflakeCredentials(account="acme-prod", user="ETL", **fields)
    return str(raised.value)


# -- one way to authenticate ----------------------------------------------------------------


def test_none_set_names_every_way_to_authenticate():
    message = validation_message()

    assert "no way to authenticate is set" in message
    for name in ("password", "private_key", "private_key_path", "token", "authenticator"):
        assert name in message


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"password": PASSWORD, "token": TOKEN}, "password and token are all set"),
        (
            {"password": PASSWORD, "private_key_path": "/k.p8", "authenticator": "externalbrowser"},
            "password, private_key_path and authenticator are all set",
        ),
        ({"token": TOKEN, "authenticator": "externalbrowser"}, "token and authenticator"),
    ],
)
def test_two_ways_to_authenticate_are_named(fields, named):
    message = validation_message(**fields)

    assert named in message
    assert "keep exactly one" in message
    assert PASSWORD not in message
    assert TOKEN not in message


def test_key_pair_conflicts_are_named(rsa_key):
    both = validation_message(private_key=pem(rsa_key), private_key_path="/k.p8")
    orphan = validation_message(password=PASSWORD, private_key_passphrase=PASSPHRASE)
    built_in = validation_message(authenticator="oauth")

    assert "give private_key or private_key_path, not both" in both
    assert "BEGIN" not in both
    assert "private_key_passphrase is set, but there is no key" in orphan
    assert PASSPHRASE not in orphan
    assert "authenticator='oauth' is chosen by the other fields: give token instead" in built_in


@pytest.mark.parametrize(
    "fields",
    [
        {"password": PASSWORD},
        {"token": TOKEN},
        {"authenticator": "externalbrowser"},
        {"private_key_path": "/keys/rsa_key.p8", "private_key_passphrase": PASSPHRASE},
    ],
)
def test_each_way_alone_is_valid(fields):
    credentials = SnowflakeCredentials(account="acme-prod", user="ETL", **fields)

    assert credentials.endpoint == "https://acme-prod.snowflakecomputing.com"


# -- key pairs ------------------------------------------------------------------------------


def test_a_key_pair_is_passed_as_der(rsa_key):
    plain = SnowflakeCredentials(account="a", user="u", private_key=pem(rsa_key))
    encrypted = SnowflakeCredentials(
        account="a",
        user="u",
        private_key=pem(rsa_key, PASSPHRASE),
        private_key_passphrase=PASSPHRASE,
    )
    escaped = SnowflakeCredentials(
        account="a", user="u", private_key=pem(rsa_key).replace("\n", "\\n")
    )

    assert plain.get_private_key() == der(rsa_key)
    assert encrypted.get_private_key() == der(rsa_key)
    assert escaped.get_private_key() == der(rsa_key)
    params = encrypted._connect_params()
    assert params["private_key"] == der(rsa_key)
    assert params["authenticator"] == "SNOWFLAKE_JWT"
    assert "password" not in params


def test_a_key_file_is_read_and_decrypted(rsa_key, tmp_path):
    path = tmp_path / "rsa_key.p8"
    path.write_text(pem(rsa_key, PASSPHRASE))
    credentials = SnowflakeCredentials(
        account="a", user="u", private_key_path=str(path), private_key_passphrase=PASSPHRASE
    )

    assert credentials.get_private_key() == der(rsa_key)


@pytest.mark.parametrize(
    ("key_passphrase", "given", "problem"),
    [
        (PASSPHRASE, "wr0ng-passphrase", "cannot be decrypted with private_key_passphrase"),
        (PASSPHRASE, None, "it is encrypted: give its passphrase as private_key_passphrase"),
        (None, PASSPHRASE, "it is not encrypted: leave private_key_passphrase unset"),
    ],
)
def test_a_passphrase_problem_is_clear(rsa_key, key_passphrase, given, problem):
    key_text = pem(rsa_key, key_passphrase)
    credentials = SnowflakeCredentials(
        account="a", user="u", private_key=key_text, private_key_passphrase=given
    )

    with pytest.raises(SnowflakeError) as raised:
        credentials.get_private_key()

    message = str(raised.value)
    assert message.startswith("SnowflakeCredentials.private_key is not a usable private key")
    assert problem in message
    assert key_text.splitlines()[1] not in message
    assert PASSPHRASE not in message
    assert "wr0ng-passphrase" not in message
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


def test_not_a_key_and_a_missing_file_are_clear(tmp_path):
    garbage = SnowflakeCredentials(account="a", user="u", private_key="n0t-a-k3y-at-all")
    missing = SnowflakeCredentials(account="a", user="u", private_key_path=str(tmp_path / "no.p8"))

    with pytest.raises(SnowflakeError, match="it is not a PEM-encoded private key") as bad:
        garbage.get_private_key()
    with pytest.raises(SnowflakeError, match=r"no\.p8' cannot be read \(No such file"):
        missing.get_private_key()
    assert "n0t-a-k3y-at-all" not in str(bad.value)


# -- secrets --------------------------------------------------------------------------------


def test_secrets_never_shown(rsa_key):
    key_text = pem(rsa_key, PASSPHRASE)
    blocks = [
        SnowflakeCredentials(account="a", user="u", password=PASSWORD),
        SnowflakeCredentials(account="a", user="u", token=TOKEN),
        SnowflakeCredentials(
            account="a", user="u", private_key=key_text, private_key_passphrase=PASSPHRASE
        ),
    ]
    for block in blocks:
        shown = repr(block) + str(block) + block.model_dump_json()
        for secret in (PASSWORD, TOKEN, PASSPHRASE, key_text.splitlines()[1]):
            assert secret not in shown


# -- check and connections --------------------------------------------------------------------


def test_check_against_the_server(fakesnow_server):
    result = fakesnow_server.credentials(role="ANALYST").check()

    assert result.ok, result.message
    assert result.message.startswith(
        f"logged in to account 'fakesnow' at http://127.0.0.1:{fakesnow_server.port} as user "
        "'fake' with role 'ANALYST': Snowflake "
    )
    assert result.latency > 0


def test_check_with_a_key_pair(fakesnow_server, rsa_key):
    """The connector signs a JWT with the DER key (fakesnow accepts any login)."""
    credentials = fakesnow_server.credentials(
        password=None, private_key=pem(rsa_key, PASSPHRASE), private_key_passphrase=PASSPHRASE
    )

    result = credentials.check()

    assert result.ok, result.message


def test_a_connection_failure_names_host_and_account(fakesnow_server, closed_port):
    credentials = fakesnow_server.credentials(
        account="acme-prod", password=PASSWORD, port=closed_port
    )

    with pytest.raises(SnowflakeError) as raised:
        credentials.get_connection()
    result = credentials.check()

    error = raised.value
    assert str(error).startswith(
        f"Connecting to Snowflake account 'acme-prod' at http://127.0.0.1:{closed_port} as user "
        "'fake' failed with Snowflake error 250001: "
    )
    assert error.errno == 250001
    assert error.transient
    assert error.__cause__ is None
    assert error.__context__ is None
    assert not result.ok
    assert result.message.startswith("SnowflakeError: Connecting to Snowflake account 'acme-prod'")
    copied = pickle.loads(pickle.dumps(error))
    assert (type(copied), str(copied), copied.errno, copied.transient) == (
        SnowflakeError,
        str(error),
        250001,
        True,
    )
    for text in (str(error), repr(error), result.message):
        assert PASSWORD not in text
