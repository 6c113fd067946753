"""Snowflake credentials as a block: one way to authenticate, connections, and a real check.

A password, token, private key or passphrase never appears in an error message, a log line
or a repr: errors about a private key name the field and what is wrong with it (not PEM,
encrypted without a passphrase, a wrong passphrase), never the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from plait.blocks import CheckResult, CredentialsBlock
from plait_snowflake.errors import SnowflakeError, snowflake_error

AUTH_METHODS = {  # what each way to authenticate is called in errors -> its fields
    "password": ("password",),
    "key pair": ("private_key", "private_key_path"),
    "OAuth token": ("token",),
    "external authenticator": ("authenticator",),
}
BUILT_IN_AUTHENTICATORS = {  # authenticator values that other fields select by themselves
    "snowflake": "password",
    "snowflake_jwt": "private_key or private_key_path",
    "oauth": "token",
}


class SnowflakeCredentials(CredentialsBlock):
    """Credentials for Snowflake: an ``account`` and a ``user`` with exactly one way to
    authenticate: a ``password``; a key pair (the PEM text of the private key,
    ``private_key``, or the path of its file, ``private_key_path``, with
    ``private_key_passphrase`` if the key is encrypted); an OAuth ``token``; or an external
    ``authenticator`` such as ``"externalbrowser"``. Optionally a ``role``, and ``host``,
    ``port`` and ``protocol`` to reach a private endpoint or a local test server."""

    _documentation_url = "https://plait.dev/docs/integrations/snowflake#snowflakecredentials"
    _code_example = """
        from plait_snowflake import SnowflakeCredentials

        with open("rsa_key.p8") as key_file:
            SnowflakeCredentials(
                account="myorg-myaccount",
                user="ETL",
                role="TRANSFORMER",
                private_key=key_file.read(),
                private_key_passphrase="...",
            ).save("prod")

        print(SnowflakeCredentials.load("prod").check())
    """

    account: str = Field(
        description="The account identifier, e.g. 'myorg-myaccount' (or a locator such as "
        "'xy12345.eu-west-1'), without '.snowflakecomputing.com'."
    )
    user: str = Field(description="The user to log in as.")
    role: str | None = Field(default=None, description="The role; by default the user's.")
    password: SecretStr | None = Field(default=None, description="Password authentication.")
    private_key: SecretStr | None = Field(
        default=None,
        description="Key-pair authentication: the private key, PEM text ('-----BEGIN ... "
        "PRIVATE KEY-----'); encrypted when saved.",
    )
    private_key_path: str | None = Field(
        default=None, description="Key-pair authentication: the path of a PEM private key file."
    )
    private_key_passphrase: SecretStr | None = Field(
        default=None, description="The passphrase of an encrypted private key."
    )
    token: SecretStr | None = Field(default=None, description="OAuth authentication: a token.")
    authenticator: str | None = Field(
        default=None,
        description="An external authenticator: 'externalbrowser', or an Okta URL.",
    )
    host: str | None = Field(
        default=None,
        description="Connect to this host instead of <account>.snowflakecomputing.com "
        "(private endpoints, local test servers).",
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="The port; 443 by default.")
    protocol: Literal["https", "http"] | None = Field(
        default=None, description="'https' (the default), or 'http' for a local test server."
    )

    @field_validator("account", "user")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("private_key_path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must be the path of a PEM private key file, or None")
        return str(Path(value.strip()).expanduser())

    @model_validator(mode="after")
    def _one_auth_method(self) -> SnowflakeCredentials:
        given = {
            method: [name for name in fields if getattr(self, name) is not None]
            for method, fields in AUTH_METHODS.items()
        }
        if len(given["key pair"]) > 1:
            raise ValueError(
                "give private_key or private_key_path, not both: they are two ways of passing "
                "the same key"
            )
        if self.private_key_passphrase is not None and not given["key pair"]:
            raise ValueError(
                "private_key_passphrase is set, but there is no key: give private_key (the PEM "
                "text) or private_key_path with it"
            )
        chosen = {method: names for method, names in given.items() if names}
        if not chosen:
            raise ValueError(
                "no way to authenticate is set: give exactly one of password, private_key (or "
                "private_key_path, with private_key_passphrase if the key is encrypted), token "
                "(OAuth), or authenticator (e.g. 'externalbrowser')"
            )
        if len(chosen) > 1:
            fields = [names[0] for names in chosen.values()]
            raise ValueError(
                f"{_and(fields)} are all set, but they are {len(fields)} different ways to "
                f"authenticate ({_and(list(chosen))}): keep exactly one"
            )
        if self.authenticator is not None:
            instead = BUILT_IN_AUTHENTICATORS.get(self.authenticator.strip().lower())
            if instead:
                raise ValueError(
                    f"authenticator={self.authenticator!r} is chosen by the other fields: "
                    f"give {instead} instead, and leave authenticator unset"
                )
        return self

    # -- connecting -----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Where connections go: ``https://<account>.snowflakecomputing.com``, or the
        ``protocol``, ``host`` and ``port`` given."""
        host = self.host or f"{self.account}.snowflakecomputing.com"
        port = f":{self.port}" if self.port else ""
        return f"{self.protocol or 'https'}://{host}{port}"

    def get_private_key(self) -> bytes | None:
        """The key-pair private key, decrypted, as DER (PKCS#8) bytes, the form the connector
        takes; None without a key pair. A key that cannot be used raises ``SnowflakeError``
        naming the field and the problem, never the key."""
        if self.private_key is not None:
            pem = self.private_key.get_secret_value()
            if "\n" not in pem.strip():  # from an environment variable, with \n escaped
                pem = pem.replace("\\n", "\n")
            return _der_private_key(
                pem.encode(), self.private_key_passphrase, "SnowflakeCredentials.private_key"
            )
        if self.private_key_path is not None:
            return _der_private_key(
                _read_key_file(self.private_key_path),
                self.private_key_passphrase,
                f"The private key file {self.private_key_path!r}",
            )
        return None

    def get_connection(self, **options: Any) -> Any:
        """A new ``snowflake.connector.SnowflakeConnection`` with these credentials (close it
        when done). ``options`` go to ``snowflake.connector.connect`` (``database``,
        ``schema``, ``warehouse``...). A failure raises ``SnowflakeError`` naming the account,
        the endpoint and the user, never a secret."""
        import snowflake.connector

        params = self._connect_params()
        params.update({name: value for name, value in options.items() if value is not None})
        try:
            return snowflake.connector.connect(**params)
        except Exception as exc:
            error = snowflake_error(
                exc,
                f"Connecting to Snowflake account {self.account!r} at {self.endpoint} as user "
                f"{self.user!r}",
                secrets=self._secret_values(),
            )
        raise error  # outside the except block: the connector's exception is not chained

    def _connect_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"account": self.account, "user": self.user}
        for name in ("role", "host", "port", "protocol", "authenticator"):
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        if self.password is not None:
            params["password"] = self.password.get_secret_value()
        if self.token is not None:
            params.update(authenticator="oauth", token=self.token.get_secret_value())
        private_key = self.get_private_key()
        if private_key is not None:
            params.update(authenticator="SNOWFLAKE_JWT", private_key=private_key)
        return params

    def _secret_values(self) -> list[str]:
        secrets = (self.password, self.token, self.private_key, self.private_key_passphrase)
        return [secret.get_secret_value() for secret in secrets if secret is not None]

    # -- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Logs in and runs ``select current_version()``: one authenticated round trip."""
        return CheckResult.measure(self._round_trip)

    def _round_trip(self) -> str:
        connection = self.get_connection()
        try:
            with connection.cursor() as cursor:
                (version,) = cursor.execute("select current_version()").fetchone()
        except Exception as exc:
            error = snowflake_error(exc, "Running 'select current_version()'")
        else:
            role = f" with role {self.role!r}" if self.role else ""
            return (
                f"logged in to account {self.account!r} at {self.endpoint} as user "
                f"{self.user!r}{role}: Snowflake {version}"
            )
        finally:
            connection.close()
        raise error


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _read_key_file(path: str) -> bytes:
    """The content of a key file; errors name the file, never its content."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise SnowflakeError(
        f"The private key file {path!r} cannot be read ({reason}): give the path of a PEM "
        "private key file that this process can read."
    )


def _der_private_key(pem: bytes, passphrase: SecretStr | None, what: str) -> bytes:
    """``pem`` loaded (and decrypted with ``passphrase``) and written as unencrypted PKCS#8
    DER. Every problem is a ``SnowflakeError`` that names ``what`` and the problem; the
    cryptography library's exception is not kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    password = passphrase.get_secret_value().encode() if passphrase is not None else None
    encrypted = b"ENCRYPTED" in pem
    problem = None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError:  # a passphrase missing, or given for a key that is not encrypted
        problem = (
            "it is encrypted: give its passphrase as private_key_passphrase"
            if password is None
            else "it is not encrypted: leave private_key_passphrase unset"
        )
    except Exception:  # ValueError, UnsupportedAlgorithm
        problem = (
            "it cannot be decrypted with private_key_passphrase (a wrong passphrase?)"
            if encrypted and password is not None
            else "it is not a PEM-encoded private key (it should start with '-----BEGIN "
            "PRIVATE KEY-----' or '-----BEGIN ENCRYPTED PRIVATE KEY-----', with its line "
            "breaks as in the key file)"
        )
    if problem is None and not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        problem = f"it is a {type(key).__name__}; Snowflake takes RSA (or EC) keys"
    if problem is not None:
        raise SnowflakeError(f"{what} is not a usable private key: {problem}.")
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
