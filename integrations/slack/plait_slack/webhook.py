"""Slack incoming webhooks as a notification block."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from plait.blocks import NotificationBlock, RunNotice
from plait_slack.credentials import DOCS
from plait_slack.errors import answer_error, slack_error
from plait_slack.messages import escape, notice_message
from plait_slack.sdk import retry_handlers, sdk_logger


class SlackWebhook(NotificationBlock):
    """A Slack incoming webhook: its URL is a secret (it is all it takes to post). Use it
    as a flow's or task's state hook, ``@flow(on_failure=[SlackWebhook.load("alerts")])``,
    which posts the flow, run, state, message and duration; or send with ``notify`` and
    the ``send_incoming_webhook_message`` task."""

    _documentation_url = DOCS
    _code_example = """
        from plait import flow
        from plait_slack import SlackWebhook

        SlackWebhook(url="https://hooks.slack.com/services/T000/B000/XXXX").save("alerts")

        @flow(on_failure=[SlackWebhook.load("alerts")])
        def nightly(): ...
    """

    url: SecretStr = Field(description="The incoming webhook's URL.")
    rate_limit_retries: int = Field(
        default=3, ge=0, le=20, description="How often a rate-limited message is retried."
    )
    timeout_seconds: int = Field(default=30, ge=1, description="Per request.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                "must be the webhook's https:// URL, such as "
                "https://hooks.slack.com/services/T000/B000/XXXX"
            )
        return SecretStr(value.get_secret_value().strip())

    def send(self, text: str | None = None, blocks: list[dict[str, Any]] | None = None) -> None:
        """Post a message (``text``, Block Kit ``blocks``, or both: then ``text`` is the
        notification's fallback). Raises ``SlackError`` with Slack's code and a hint."""
        if not text and not blocks:
            raise ValueError("SlackWebhook.send: give text or blocks (or both).")
        from slack_sdk.webhook import WebhookClient

        url = self.url.get_secret_value()
        secrets = [url, urlsplit(url).path]
        client = WebhookClient(
            url,
            timeout=self.timeout_seconds,
            retry_handlers=retry_handlers(self.rate_limit_retries),
            logger=sdk_logger(*secrets),
        )
        doing = f"Posting to the Slack webhook at {urlsplit(url).hostname}"
        try:
            response = client.send(text=text, blocks=blocks)
        except Exception as exc:
            raise slack_error(exc, doing, secrets) from None
        if response.status_code != 200:
            raise answer_error(doing, (response.body or "").strip(), response.status_code)

    def notify(self, body: str, subject: str | None = None) -> None:
        """Post ``body``, with ``subject`` in bold above it (both shown as written: ``<``,
        ``>`` and ``&`` are escaped, so they are never read as links or mentions)."""
        self.send(f"*{escape(subject)}*\n{escape(body)}" if subject else escape(body))

    def notify_run(self, notice: RunNotice) -> None:
        """As a state hook: a Block Kit message naming the flow, run, state, message and
        duration."""
        self.send(**notice_message(notice))
