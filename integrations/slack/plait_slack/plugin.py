"""Registers plait-slack with Plait: its block types and prebuilt tasks. Imports stay inside
the hooks, so loading the plugin does not import slack-sdk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_slack import SlackCredentials, SlackWebhook

    return [SlackCredentials, SlackWebhook]


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_slack import tasks

    return [tasks.send_chat_message, tasks.send_incoming_webhook_message, tasks.upload_file]
