"""What plait-slack's slack-sdk clients share: their retry handlers, and log lines without
secrets. slack-sdk logs request URLs (a webhook's URL is its secret) at DEBUG, and on retries
at INFO; plait-slack's clients log through one logger, ``plait_slack.sdk``, whose filter cuts
every token and webhook URL in use out of each line."""

from __future__ import annotations

import logging
from typing import Any

LOGGER_NAME = "plait_slack.sdk"
REDACTED = "<redacted>"
_secrets: set[str] = set()


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in sorted(_secrets, key=len, reverse=True):  # a URL before its path
            message = message.replace(secret, REDACTED)
        record.msg, record.args = message, ()
        return True


def retry_handlers(rate_limit_retries: int) -> list[Any]:
    """slack-sdk's default handler (a lost connection, once), and a wait for Slack's
    ``Retry-After`` on each rate limit, ``rate_limit_retries`` times."""
    from slack_sdk.http_retry import default_retry_handlers
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    return [*default_retry_handlers(), RateLimitErrorRetryHandler(rate_limit_retries)]


def sdk_logger(*secrets: str) -> logging.Logger:
    """The logger to give a slack-sdk client, with ``secrets`` cut out of its lines."""
    _secrets.update(secret for secret in secrets if secret)
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(existing, _Redact) for existing in logger.filters):
        logger.addFilter(_Redact())
    return logger
