"""Slack credentials: a bot token, and the Web API client built from it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from plait.blocks import CheckResult, CredentialsBlock
from plait_slack.errors import slack_error
from plait_slack.sdk import retry_handlers, sdk_logger

DOCS = "https://plait.dev/docs/integrations/slack"
DEFAULT_BASE_URL = "https://slack.com/api/"


class SlackCredentials(CredentialsBlock):
    """A Slack app's bot token (``xoxb-...``), for the Web API: ``get_client()`` returns a
    ``slack_sdk.WebClient`` that waits out rate limits (Slack's ``Retry-After``) and
    retries."""

    _documentation_url = DOCS
    _code_example = """
        from plait_slack import SlackCredentials, send_chat_message

        SlackCredentials(token="xoxb-...").save("bot")
        bot = SlackCredentials.load("bot")
        send_chat_message("#data-team", "Nightly load done", credentials=bot)
    """

    token: SecretStr = Field(description="The bot (xoxb-) or user (xoxp-) token.")
    base_url: str | None = Field(
        default=None, description="The Web API's base URL; by default https://slack.com/api/."
    )
    rate_limit_retries: int = Field(
        default=3, ge=0, le=20, description="How often a rate-limited call is retried."
    )
    timeout_seconds: int = Field(default=30, ge=1, description="Per request.")

    @field_validator("token")
    @classmethod
    def _looks_like_a_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip().startswith("xox"):
            raise ValueError(
                "must be a Slack token: a bot token starts with xoxb-, a user token with xoxp- "
                "(copy it from your app's OAuth & Permissions page)"
            )
        return SecretStr(value.get_secret_value().strip())

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL, such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    def get_client(self) -> Any:
        """A ``slack_sdk.WebClient`` for this token, built once per process."""
        return self.cached_client("web", self._build_client)

    def _build_client(self) -> Any:
        from slack_sdk import WebClient

        token = self.token.get_secret_value()
        return WebClient(
            token=token,
            base_url=self.base_url or DEFAULT_BASE_URL,
            timeout=self.timeout_seconds,
            retry_handlers=retry_handlers(self.rate_limit_retries),
            logger=sdk_logger(token),
        )

    def call(self, doing: str, method: str, **arguments: Any) -> Any:
        """``client.<method>(**arguments)``; a failure raises ``SlackError`` with Slack's code
        and a hint, never the token. ``doing`` describes the call for the message."""
        try:
            return getattr(self.get_client(), method)(**arguments)
        except Exception as exc:
            raise slack_error(exc, doing, [self.token.get_secret_value()]) from None

    def check(self) -> CheckResult:
        """Calls ``auth.test``: reports the team and the bot, or why the token fails."""
        return CheckResult.measure(self._auth_test)

    def _auth_test(self) -> str:
        answer = self.call("auth.test", "auth_test")
        bot = f", bot {answer.get('bot_id')}" if answer.get("bot_id") else ""
        return (
            f"authenticated as {answer.get('user')!r} ({answer.get('user_id')}{bot}) in team "
            f"{answer.get('team')!r} ({answer.get('team_id')})"
        )
