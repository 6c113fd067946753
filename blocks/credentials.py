"""Credentials blocks that Plait itself provides."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue, SecretStr
from pydantic import Secret as SecretValue

from plait.blocks.block import CheckResult, CredentialsBlock


class Secret(CredentialsBlock):
    """A secret string or JSON value (an API token, a connection string, a dict of
    passwords), encrypted at rest and masked everywhere. Read it with ``.get()``."""

    _documentation_url = "https://plait.dev/docs/blocks#standard-blocks"
    _code_example = """
        from plait.blocks import Secret

        Secret(value="s3cr3t-t0ken").save("api-token")
        token = Secret.load("api-token").get()
    """

    value: SecretStr | SecretValue[JsonValue]

    def get(self) -> Any:
        """The secret's value: a string, or the JSON value it was saved with."""
        return self.value.get_secret_value()

    def check(self) -> CheckResult:
        """Read this secret back from the store and confirm it decrypts to the same value
        with the current encryption key."""
        return CheckResult.measure(self._read_back)

    def _read_back(self) -> str:
        if self._saved is None:
            raise ValueError("this secret is not saved; save it first")
        stored = type(self).load(self._saved.name)
        if stored.get() != self.get():
            raise ValueError(
                f"the saved value differs from this one (saved version {stored._saved.version})"
            )
        return f"decrypted secret/{self._saved.name} with the current key"
