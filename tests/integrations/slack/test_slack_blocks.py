"""SlackCredentials and SlackWebhook: check() against the fake Slack, the webhook as a state
hook on real flows (the message names the flow, the run, the state, the error and the
duration), validation, and the conformance kit."""

from __future__ import annotations

import pytest
from fixtures.slack import TOKEN

from plait import flow, task
from plait.testing import BlockConformance
from plait_slack import SlackCredentials, SlackWebhook


def test_check_reports_the_team_and_the_bot(slack):
    result = SlackCredentials(token=TOKEN, base_url=slack.api_url).check()

    assert result.ok
    assert result.message == (
        "authenticated as 'plait-bot' (U0BOT, bot B0BOT) in team 'Plait Test' (T0PLAIT)"
    )
    assert [call.method for call in slack.calls] == ["auth.test"]


def test_check_says_what_is_wrong_with_a_refused_token(slack):
    token = "xoxb-refused-t0ken-4242"

    result = SlackCredentials(token=token, base_url=slack.api_url).check()

    assert not result.ok
    assert result.message.startswith("SlackError: auth.test failed: Slack answered invalid_auth:")
    assert "check the token saved in the SlackCredentials block" in result.message
    assert token not in result.message


def test_the_client_is_built_once_per_credentials(slack):
    credentials = SlackCredentials(token=TOKEN, base_url=slack.api_url)

    client = credentials.get_client()

    assert credentials.get_client() is client
    assert SlackCredentials(token=TOKEN, base_url=slack.api_url).get_client() is client
    assert client.base_url == slack.api_url
    assert SlackCredentials(token=TOKEN).get_client().base_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"token": "not-a-token-s3cret"}, "must be a Slack token: a bot token starts with xoxb-"),
        ({"token": "xapp-1-app-level-t0ken"}, "must be a Slack token: a bot token starts with"),
        ({"token": TOKEN, "base_url": "slack.com/api"}, "must be an http:// or https:// URL"),
        ({"token": TOKEN, "rate_limit_retries": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_credentials_fields_are_refused_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message) as raised:
        SlackCredentials(**fields)

    field = next(iter(set(fields) - {"token"}), "token")
    assert field in str(raised.value)
    assert "not-a-token-s3cret" not in str(raised.value)


def test_a_webhook_url_must_be_an_https_url():
    with pytest.raises(ValueError, match=r"url\n.*must be the webhook's https:// URL") as raised:
        SlackWebhook(url="hooks.slack.com/services/T/B/s3cret-part")

    assert "s3cret-part" not in str(raised.value)


@task
def load_rows() -> None:
    raise RuntimeError("the source table is empty")


def test_the_webhook_as_a_failure_hook_posts_what_failed(slack):
    alerts = SlackWebhook(url=slack.webhook_url)
    alerts.save("alerts")

    @flow(
        name="nightly", flow_run_name="nightly-2026-11-24", on_failure=[SlackWebhook.load("alerts")]
    )
    def nightly() -> None:
        load_rows()

    with pytest.raises(RuntimeError, match="the source table is empty"):
        nightly()

    [call] = slack.calls_to("webhook")
    message = call.args
    assert message["text"] == ":x: Flow run 'nightly-2026-11-24' of 'nightly' is Failed"
    header, facts, error, context = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Flow run nightly-2026-11-24 is Failed"},
    }
    fields = [field["text"] for field in facts["fields"]]
    assert fields[:3] == ["*Flow*\nnightly", "*Run*\nnightly-2026-11-24", "*State*\nFailed"]
    duration = fields[3].removeprefix("*Duration*\n")
    assert duration.endswith("s")
    assert 0 <= float(duration.removesuffix("s")) < 60
    assert "RuntimeError: the source table is empty" in error["text"]["text"]
    assert error["text"]["text"].startswith("```")
    assert context["elements"][0]["text"].startswith("Run id `")


def test_the_webhook_as_a_task_completion_hook(slack):
    @task(on_completion=[SlackWebhook(url=slack.webhook_url)])
    def publish() -> int:
        return 3

    @flow
    def pipeline() -> int:
        return publish()

    pipeline()

    [call] = slack.calls_to("webhook")
    assert call.args["text"].startswith(":white_check_mark: Task run 'publish-0' of 'publish'")
    assert "*Task*\npublish" in call.args["blocks"][1]["fields"][0]["text"]


def test_notify_sends_the_subject_in_bold_above_the_body(slack):
    SlackWebhook(url=slack.webhook_url).notify("3 files loaded", subject="Nightly <ok>")

    [call] = slack.calls_to("webhook")
    assert call.args == {"text": "*Nightly &lt;ok&gt;*\n3 files loaded"}


def test_a_failing_hook_never_shows_the_webhook_url(slack, recorder):
    slack.answer("webhook", 404, "no_service")

    @flow(on_failure=[SlackWebhook(url=slack.webhook_url)])
    def nightly() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        nightly()

    logs = " ".join(event.message for event in recorder.logs())
    assert "no_service" in logs  # the hook's failure is logged...
    assert "webhook-s3cret-part" not in logs  # ...without the URL


def test_a_long_failure_message_fits_slack_s_limit_and_stays_a_code_block():
    from plait_slack.messages import code_block

    block = code_block("<" * 5000)
    assert len(block) <= 3000
    assert block.startswith("```&lt;&lt;")
    assert block.endswith("&lt;…```")
    assert code_block("a ``` b") == "```a ''' b```"
    assert code_block("x" * 2994) == "```" + "x" * 2994 + "```"


class TestSlackBlocks(BlockConformance):
    plugin = "slack"
    examples = [
        SlackCredentials(token="xoxb-conformance-t0ken-1234"),
        SlackCredentials(
            token="xoxp-conformance-user-t0ken",
            base_url="https://slack.example.com/api",
            rate_limit_retries=5,
            timeout_seconds=10,
        ),
        SlackWebhook(url="https://hooks.slack.com/services/T000/B000/conformance-s3cret"),
    ]
