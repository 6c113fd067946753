"""State-hook notices as Slack messages: Block Kit blocks, with a plain-text fallback."""

from __future__ import annotations

from typing import Any

from plait.blocks import RunNotice
from plait.blocks.notifications import format_duration

SECTION_LIMIT = 3000  # characters in a section's text
HEADER_LIMIT = 150
FENCE = "`" * 3
ICONS = {"Completed": ":white_check_mark:", "Cached": ":white_check_mark:",
         "Failed": ":x:", "TimedOut": ":hourglass:", "Crashed": ":boom:",
         "Cancelled": ":no_entry_sign:", "Skipped": ":fast_forward:"}  # fmt: skip


def notice_message(notice: RunNotice) -> dict[str, Any]:
    """``text`` (shown in notifications) and ``blocks``: a header, the flow or task, the run,
    the state and the duration, then the state's message as code."""
    fields = [
        ("Flow" if notice.kind == "Flow run" else "Task", notice.owner),
        ("Run", notice.run_name),
        ("State", notice.state),
        ("Duration", "-" if notice.duration is None else format_duration(notice.duration)),
    ]
    icon = ICONS.get(notice.state, ":information_source:")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{notice.kind} {notice.run_name} is {notice.state}")},
        {
            "type": "section",
            "fields": [mrkdwn(f"*{name}*\n{escape(value)}") for name, value in fields],
        },
    ]
    if notice.message:
        blocks.append({"type": "section", "text": mrkdwn(code_block(notice.message))})
    blocks.append({"type": "context", "elements": [mrkdwn(f"Run id `{notice.run_id}`")]})
    return {"text": f"{icon} {notice.subject}", "blocks": blocks}


def code_block(text: str) -> str:
    """``text`` as a mrkdwn code block within Slack's limit for a section (cut, with an
    ellipsis, if longer; never inside an escaped character)."""
    body = escape(text).replace(FENCE, "'" * 3)  # a fence inside would close the block
    room = SECTION_LIMIT - 2 * len(FENCE)
    if len(body) > room:
        body = body[: room - 1]
        entity = body.rfind("&")
        if entity > len(body) - 5:  # an entity (&amp; &lt; &gt;) cut in two
            body = body[:entity]
        body += "…"
    return f"{FENCE}{body}{FENCE}"


def plain(text: str) -> dict[str, Any]:
    short = text if len(text) <= HEADER_LIMIT else text[: HEADER_LIMIT - 1] + "…"
    return {"type": "plain_text", "text": short}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def escape(text: str) -> str:
    """``text`` safe in Slack's mrkdwn: ``&``, ``<`` and ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
