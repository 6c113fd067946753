"""Slack errors as Plait errors: what was being done, Slack's error code and a hint for it,
without tokens or webhook URLs."""

from __future__ import annotations

from typing import Any

from plait.exceptions import PlaitError

HINTS = {
    # Web API (``{"ok": false, "error": ...}``)
    "channel_not_found": "the channel does not exist or the bot cannot see it: check the "
    "channel ID (C0123ABCD) or #name, and invite the bot to a private channel",
    "not_in_channel": "the bot is not in the channel: invite it (/invite @your-bot), or give "
    "the app the chat:write.public scope for public channels",
    "is_archived": "the channel is archived: unarchive it or post elsewhere",
    "invalid_auth": "Slack refused the token: check the token saved in the SlackCredentials "
    "block (a bot token starts with xoxb-)",
    "not_authed": "no token was sent: set SlackCredentials.token",
    "token_revoked": "the token was revoked: reinstall the app and save the new token",
    "token_expired": "the token expired: refresh it and save the new token",
    "account_inactive": "the token's user or bot was deactivated",
    "missing_scope": "the token lacks a scope this call needs: add it to the app "
    "(OAuth & Permissions) and reinstall",
    "ratelimited": "Slack kept rate-limiting the call after the retries (rate_limit_retries, "
    "each after Slack's Retry-After): send fewer messages, or allow more retries",
    "rate_limited": "Slack kept rate-limiting the webhook after the retries "
    "(rate_limit_retries, each after Slack's Retry-After): send fewer messages, or allow "
    "more retries",
    "msg_too_long": "the message is too long: Slack takes up to 40,000 characters of text",
    "no_text": "give text or blocks",
    "invalid_blocks": "Slack rejected the blocks: check them with Block Kit Builder",
    "invalid_arguments": "Slack rejected the arguments: check channel, text and blocks",
    # incoming webhooks (a status and a plain-text code)
    "invalid_payload": "Slack could not read the message: check text and blocks",
    "invalid_token": "the webhook URL is no longer valid: create a new incoming webhook and "
    "save its URL in the SlackWebhook block",
    "no_service": "the webhook URL is not valid (deleted or mistyped): save the right URL in "
    "the SlackWebhook block",
    "no_active_hooks": "the webhook was disabled: enable it or create a new one",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "a workspace admin restricted posting to the webhook's channel",
}
NON_JSON = "Received a response in a non-JSON format"  # slack-sdk's "error" for such answers


class SlackError(PlaitError):
    """A Slack call failed. ``error`` is Slack's code (``channel_not_found``,
    ``invalid_auth``, ``ratelimited``, ...; for a lost connection, the exception's name);
    ``status`` the HTTP status of Slack's answer, or None when Slack never answered."""

    def __init__(
        self,
        message: str,
        error: str | None = None,
        status: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.status = status
        self._transient = transient

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the fields across processes
        return (type(self), (str(self), self.error, self.status, self._transient))

    @property
    def transient(self) -> bool:
        """Whether retrying may help: Slack's server errors and lost connections."""
        return self._transient


def answer_error(doing: str, error: str, status: int | None) -> SlackError:
    """The error for Slack answering ``error`` (its code) with HTTP ``status``. Only server
    errors are transient: a rate limit (429) was already waited out inside the call,
    ``rate_limit_retries`` times, and retrying at once would be limited again."""
    code = error or f"HTTP {status}"
    hint = HINTS.get(error)
    message = f"{doing} failed: Slack answered {code}" + (f": {hint}." if hint else ".")
    transient = status is not None and status >= 500
    return SlackError(message, error or None, status, transient)


def slack_error(exc: BaseException, doing: str, secrets: list[str]) -> SlackError:
    """``exc`` from slack-sdk as a ``SlackError`` with Slack's code and a hint; ``secrets``
    (the token, the webhook URL) are cut out of anything taken from the exception."""
    from urllib.error import HTTPError

    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        response = exc.response
        error = str(response.get("error") or "")
        if error.startswith(NON_JSON):  # a proxy's error page, not Slack's code
            error = ""
        return answer_error(doing, error, response.status_code)
    if isinstance(exc, HTTPError):  # the file upload step answered with an error status
        return answer_error(doing, "", exc.code)
    detail = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret:
            detail = detail.replace(secret, "<redacted>")
    lost = isinstance(exc, OSError)  # no answer: refused, reset, timed out, DNS (URLError)
    return SlackError(f"{doing} failed: {detail}", type(exc).__name__, None, transient=lost)


def is_transient(exc: BaseException) -> bool:
    """True for a ``SlackError`` that a retry may fix."""
    return isinstance(exc, SlackError) and exc.transient
