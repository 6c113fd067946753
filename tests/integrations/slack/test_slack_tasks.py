"""The prebuilt Slack tasks in real flows, with the real slack-sdk against the fake Slack in
tests/fixtures/slack.py: what Slack receives, what the tasks return, Slack's error codes with
hints, rate limits waited out or failing past the budget, and secrets kept out of it all."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fixtures.files import everything_said_about
from fixtures.slack import OUTSIDER, TOKEN, WEBHOOK_PATH

from plait import flow
from plait_slack import (
    SlackCredentials,
    SlackError,
    SlackWebhook,
    send_chat_message,
    send_incoming_webhook_message,
    upload_file,
)

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Nightly* done"}}]


@pytest.fixture
def bot(slack) -> SlackCredentials:
    return SlackCredentials(token=TOKEN, base_url=slack.api_url, rate_limit_retries=2)


@pytest.fixture
def webhook(slack) -> SlackWebhook:
    return SlackWebhook(url=slack.webhook_url, rate_limit_retries=2)


def run_in_flow(call: Any) -> Any:
    """The final state of the task call ``call(return_state=True)`` inside a flow."""
    states = []

    @flow
    def harness() -> None:
        states.append(call())

    harness()
    return states[0]


def test_send_chat_message_posts_and_returns_the_timestamp(slack, bot):
    state = run_in_flow(
        lambda: send_chat_message(
            "#data-team", "Nightly done", BLOCKS, thread_ts="1795500000.000001",
            credentials=bot, return_state=True,
        )
    )  # fmt: skip

    assert state.is_completed()
    [call] = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.args["channel"] == "#data-team"
    assert call.args["text"] == "Nightly done"
    assert call.args["blocks"] == BLOCKS
    assert call.args["thread_ts"] == "1795500000.000001"
    assert state.result().endswith(".000100")


def test_send_chat_message_needs_text_or_blocks(slack, bot):
    state = run_in_flow(lambda: send_chat_message("C0DATA", credentials=bot, return_state=True))

    assert state.is_failed()
    assert "give text or blocks" in str(state.data)
    assert slack.calls == []


@pytest.mark.parametrize(
    ("channel", "token", "code", "hint"),
    [
        ("#nowhere", TOKEN, "channel_not_found", "invite the bot to a private channel"),
        (OUTSIDER, TOKEN, "not_in_channel", "/invite @your-bot"),
        ("C0DATA", "xoxb-wrong-t0ken-9999", "invalid_auth", "check the token saved"),
    ],
)
def test_slack_errors_fail_the_task_at_once_with_the_code_and_a_hint(
    slack, bot, channel, token, code, hint, recorder
):
    credentials = bot.model_copy(update={"token": SlackCredentials(token=token).token})

    state = run_in_flow(
        lambda: send_chat_message(channel, "hi", credentials=credentials, return_state=True)
    )

    assert state.is_failed()
    error = state.data
    assert isinstance(error, SlackError)
    assert error.error == code
    assert f"Posting a message to {channel} failed: Slack answered {code}: " in str(error)
    assert hint in str(error)
    assert len(slack.calls_to("chat.postMessage")) == 1  # not retried
    said = everything_said_about(error) + " ".join(e.message for e in recorder.logs())
    assert token not in said


def test_a_rate_limit_is_waited_out_inside_the_call(slack, bot):
    slack.rate_limit("chat.postMessage", times=2, retry_after=0)

    state = run_in_flow(
        lambda: send_chat_message("C0DATA", "hi", credentials=bot, return_state=True)
    )

    assert state.is_completed()
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_the_rate_limit_wait_honours_retry_after(slack, bot):
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)

    run_in_flow(lambda: send_chat_message("C0DATA", "hi", credentials=bot, return_state=True))

    limited, accepted = slack.calls_to("chat.postMessage")
    assert accepted.received - limited.received >= 1.0


def test_rate_limits_past_the_retry_budget_fail_the_task_with_a_hint(slack, bot):
    slack.rate_limit("chat.postMessage", times=3, retry_after=0)

    state = run_in_flow(
        lambda: send_chat_message("C0DATA", "hi", credentials=bot, return_state=True)
    )

    assert state.is_failed()
    assert state.data.error == "ratelimited"
    assert "kept rate-limiting the call after the retries" in str(state.data)
    assert len(slack.calls_to("chat.postMessage")) == 3  # the call and its 2 retries
    assert not state.data.transient  # the task does not retry it on top


def test_a_server_error_is_retried_by_the_task(slack, bot):
    slack.answer("chat.postMessage", 503, {"ok": False, "error": "service_unavailable"})
    quick = send_chat_message.with_options(retry_delay_seconds=0, retry_jitter_factor=None)

    state = run_in_flow(lambda: quick("C0DATA", "hi", credentials=bot, return_state=True))

    assert state.is_completed()
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_send_incoming_webhook_message_posts_text_and_blocks(slack, webhook):
    state = run_in_flow(
        lambda: send_incoming_webhook_message(webhook, "Nightly done", BLOCKS, return_state=True)
    )

    assert state.is_completed()
    [call] = slack.calls_to("webhook")
    assert call.args == {"text": "Nightly done", "blocks": BLOCKS}
    assert "authorization" not in call.headers


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (404, "no_service", "save the right URL in the SlackWebhook block"),
        (403, "invalid_token", "create a new incoming webhook"),
        (400, "invalid_payload", "check text and blocks"),
        (410, "channel_is_archived", "archived"),
    ],
)
def test_webhook_errors_name_the_code_and_never_the_url(
    slack, webhook, status, code, hint, recorder
):
    slack.answer("webhook", status, code)

    state = run_in_flow(lambda: send_incoming_webhook_message(webhook, "hi", return_state=True))

    assert state.is_failed()
    error = state.data
    assert (error.error, error.status) == (code, status)
    assert f"Posting to the Slack webhook at 127.0.0.1 failed: Slack answered {code}: " in str(
        error
    )
    assert hint in str(error)
    said = everything_said_about(error) + " ".join(e.message for e in recorder.logs())
    assert WEBHOOK_PATH not in said
    assert "webhook-s3cret-part" not in said


def test_a_webhook_rate_limited_past_the_budget_fails_with_a_hint(slack, webhook):
    slack.rate_limit("webhook", times=3, retry_after=0)

    state = run_in_flow(lambda: send_incoming_webhook_message(webhook, "hi", return_state=True))

    assert (state.data.error, state.data.status) == ("rate_limited", 429)
    assert "Slack kept rate-limiting the webhook after the retries" in str(state.data)
    assert len(slack.calls_to("webhook")) == 3


def test_slack_sdk_s_own_log_lines_leave_out_the_token_and_webhook_url(slack, bot, webhook, caplog):
    slack.rate_limit("webhook", times=1, retry_after=0)
    slack.rate_limit("chat.postMessage", times=1, retry_after=0)

    with caplog.at_level(logging.DEBUG, logger="plait_slack.sdk"):
        webhook.send("hi")
        send_chat_message.fn("C0DATA", "hi", credentials=bot)

    said = caplog.text
    assert "A retry handler found: RateLimitErrorRetryHandler for POST <redacted>" in said
    assert "webhook-s3cret-part" not in said
    assert "/services/" not in said
    assert TOKEN not in said


def test_a_non_json_server_error_names_the_status_not_the_page(slack, bot):
    slack.answer("chat.postMessage", 502, "<html>Bad gateway from the proxy</html>")
    slack.answer("chat.postMessage", 502, "<html>Bad gateway from the proxy</html>")
    slack.answer("chat.postMessage", 502, "<html>Bad gateway from the proxy</html>")
    slack.answer("chat.postMessage", 502, "<html>Bad gateway from the proxy</html>")
    quick = send_chat_message.with_options(retry_delay_seconds=0, retry_jitter_factor=None)

    state = run_in_flow(lambda: quick("C0DATA", "hi", credentials=bot, return_state=True))

    assert state.is_failed()
    assert str(state.data) == "Posting a message to C0DATA failed: Slack answered HTTP 502."
    assert (state.data.error, state.data.status, state.data.transient) == (None, 502, True)
    assert len(slack.calls_to("chat.postMessage")) == 4  # the call and the task's 3 retries


def test_a_webhook_rate_limit_is_waited_out(slack, webhook):
    slack.rate_limit("webhook", times=2, retry_after=0)

    state = run_in_flow(lambda: send_incoming_webhook_message(webhook, "hi", return_state=True))

    assert state.is_completed()
    assert len(slack.calls_to("webhook")) == 3


def test_an_unreachable_webhook_is_a_transient_error_without_the_url(closed_port):
    webhook = SlackWebhook(url=f"http://127.0.0.1:{closed_port}{WEBHOOK_PATH}")

    with pytest.raises(SlackError) as raised:
        webhook.send("hi")

    assert raised.value.transient
    assert "webhook-s3cret-part" not in everything_said_about(raised.value)


def test_upload_file_shares_content_and_returns_the_file_id(slack, bot, tmp_path):
    report = tmp_path / "report.csv"
    report.write_bytes(b"day,rows\n2026-11-24,1200\n")

    @flow
    def share() -> tuple[str, str]:
        from_path = upload_file("C0DATA", path=report, initial_comment="Today", credentials=bot)
        from_text = upload_file(
            "C0GENERAL", "plain text", filename="notes.txt", title="Notes", credentials=bot
        )
        return from_path, from_text

    from_path, from_text = share()

    assert slack.uploads == {from_path: report.read_bytes(), from_text: b"plain text"}
    first, second = slack.calls_to("files.completeUploadExternal")
    assert first.args["channel_id"] == "C0DATA"
    assert first.args["initial_comment"] == "Today"
    assert '"title": "report.csv"' in first.args["files"]
    assert second.args["channel_id"] == "C0GENERAL"
    assert '"title": "Notes"' in second.args["files"]
    assert [call.args["filename"] for call in slack.calls_to("files.getUploadURLExternal")] == [
        "report.csv",
        "notes.txt",
    ]


def test_upload_file_to_an_unknown_channel_fails_with_the_code(slack, bot):
    state = run_in_flow(
        lambda: upload_file("C0NOWHERE", b"x", filename="x.txt", credentials=bot, return_state=True)
    )

    assert state.is_failed()
    assert state.data.error == "channel_not_found"
    assert "Uploading 'x.txt' to C0NOWHERE failed: Slack answered channel_not_found" in str(
        state.data
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give either content or path"),
        ({"content": b"x", "path": "x.txt"}, "give either content or path"),
        ({"content": b"x"}, "give a filename for content"),
        ({"content": b"x", "filename": "x", "channel": "#general"}, "must be the channel's ID"),
    ],
)
def test_upload_file_checks_its_arguments(slack, bot, kwargs, message):
    arguments = {"channel": "C0DATA", **kwargs}
    state = run_in_flow(lambda: upload_file(credentials=bot, return_state=True, **arguments))

    assert message in str(state.data)
    assert slack.calls == []
