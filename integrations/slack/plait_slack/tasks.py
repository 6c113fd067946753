"""Prebuilt Plait tasks for Slack: post messages with a bot token or an incoming webhook, and
upload files.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), only when Slack answered with a server error or never answered. Rate limits
are waited out inside each call (``rate_limit_retries`` times, after Slack's ``Retry-After``);
other errors (``channel_not_found``, ``invalid_auth``, ``not_in_channel``) fail at once with
Slack's code and a hint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plait import retry_when, task
from plait_slack.errors import is_transient

if TYPE_CHECKING:
    from plait_slack.credentials import SlackCredentials
    from plait_slack.webhook import SlackWebhook

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""


@task(name="send_chat_message", **RETRY_OPTIONS)
def send_chat_message(
    channel: str,
    text: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    *,
    credentials: SlackCredentials,
) -> str:
    """Post to ``channel`` (an ID such as ``C0123ABCD``, or ``#name``) with the bot token:
    ``text``, Block Kit ``blocks`` or both, in the thread of ``thread_ts`` if given. Returns
    the message's timestamp (``ts``), which identifies it for replies and edits."""
    if not text and not blocks:
        raise ValueError("send_chat_message: give text or blocks (or both).")
    answer = credentials.call(
        f"Posting a message to {channel}",
        "chat_postMessage",
        channel=channel,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
    )
    return answer["ts"]


@task(name="send_incoming_webhook_message", **RETRY_OPTIONS)
def send_incoming_webhook_message(
    webhook: SlackWebhook, text: str | None = None, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Post ``text``, Block Kit ``blocks`` or both through an incoming webhook (to the
    channel chosen when the webhook was created)."""
    webhook.send(text, blocks)


@task(name="upload_file", **RETRY_OPTIONS)
def upload_file(
    channel: str,
    content: bytes | str | None = None,
    *,
    path: str | Path | None = None,
    filename: str | None = None,
    title: str | None = None,
    initial_comment: str | None = None,
    thread_ts: str | None = None,
    credentials: SlackCredentials,
) -> str:
    """Share a file in ``channel`` (its ID, such as ``C0123ABCD``: Slack's upload API takes
    no ``#name``): ``content`` (bytes or text) or the local file at
    ``path``, named ``filename`` (by default the path's name), with an optional ``title``
    and ``initial_comment``, in the thread of ``thread_ts`` if given. Returns the file's ID.
    Uses Slack's external upload (``files.getUploadURLExternal``, the upload, then
    ``files.completeUploadExternal``)."""
    if (content is None) == (path is None):
        raise ValueError("upload_file: give either content or path (exactly one of them).")
    if not CHANNEL_ID.fullmatch(channel):
        raise ValueError(
            f"upload_file: channel must be the channel's ID (such as C0123ABCD), not "
            f"{channel!r}: Slack's file upload takes IDs only (see the channel's details)."
        )
    if path is not None:
        content = Path(path).read_bytes()
        filename = filename or Path(path).name
    if not filename:
        raise ValueError("upload_file: give a filename for content (e.g. 'report.csv').")
    answer = credentials.call(
        f"Uploading {filename!r} to {channel}",
        "files_upload_v2",
        channel=channel,
        content=content,
        filename=filename,
        title=title or filename,
        initial_comment=initial_comment,
        thread_ts=thread_ts,
    )
    return answer["file"]["id"]
