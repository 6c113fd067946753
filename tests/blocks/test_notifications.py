"""The Webhook and Email notification blocks, against real local HTTP and SMTP servers."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from plait import flow, task
from plait.blocks import Email, Webhook
from plait.blocks.notifications import format_duration
from plait.exceptions import BlockError

TOKEN = "T0K3N-in-the-path"
HEADER_VALUE = "Bearer header-s3cr3t"


def webhook_to(http_server, **fields) -> Webhook:
    return Webhook(url=f"{http_server.url}/hooks/{TOKEN}", **fields)


def email_to(smtp_server, **fields) -> Email:
    """An Email block for ``smtp_server``, logging in unless it is plain; ``fields`` override."""
    smtp_type = {"plain": "INSECURE", "starttls": "STARTTLS", "ssl": "SSL"}[smtp_server.mode]
    defaults = {
        "smtp_server": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_type": smtp_type,
        "from_address": "plait@example.com",
        "to_addresses": ["ops@example.com", "Data Team <data@example.com>"],
        "ca_file": smtp_server.ca_file,
    }
    if smtp_server.mode != "plain":
        defaults |= {"username": smtp_server.username, "password": smtp_server.password}
    return Email(**defaults | fields)


# Webhook


def test_webhook_posts_the_rendered_template_with_its_headers(http_server):
    hook = webhook_to(
        http_server,
        headers={"Authorization": HEADER_VALUE},
        json_body={"text": "{{subject}}: {{ body }}", "tags": ["plait", "{{subject}}"], "n": 1},
    )
    hook.notify("disk full", subject="alert")

    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", f"/hooks/{TOKEN}")
    assert request.headers["authorization"] == HEADER_VALUE
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"text": "alert: disk full", "tags": ["plait", "alert"], "n": 1}


def test_webhook_default_template_and_custom_method(http_server):
    webhook_to(http_server, method="PUT").notify("body only")
    [request] = http_server.requests
    assert request.method == "PUT"
    assert request.json == {"subject": "", "body": "body only"}


def test_a_non_2xx_answer_is_a_block_error_naming_the_status_but_no_secret(http_server):
    http_server.status = 503
    hook = webhook_to(http_server, headers={"X-Api-Key": HEADER_VALUE})
    with pytest.raises(BlockError) as caught:
        hook.notify("hello")
    message = str(caught.value)
    assert "503" in message
    assert http_server.url in message  # scheme, host and port only
    assert TOKEN not in message
    assert HEADER_VALUE not in message


def test_a_refused_connection_is_a_clear_block_error(closed_port):
    hook = Webhook(url=f"http://127.0.0.1:{closed_port}/hooks/{TOKEN}")
    with pytest.raises(BlockError, match=rf"http://127\.0\.0\.1:{closed_port} failed") as caught:
        hook.notify("hello")
    assert "Connection refused" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__suppress_context__  # httpx's error, with the URL, is not chained


def test_an_unknown_placeholder_is_rejected_naming_it_and_the_allowed_ones():
    with pytest.raises(ValidationError) as caught:
        Webhook(url="https://hooks.example.com/x", json_body={"text": "{{body}} {{run_name}}"})
    message = str(caught.value)
    assert "json_body" in message
    assert "{{run_name}}" in message
    assert "{{body}} and {{subject}}" in message


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "hooks.example.com/", "https:///", "https://example.com:x/"]
)
def test_a_url_that_is_not_http_is_rejected_without_showing_it(url):
    with pytest.raises(ValidationError, match="url must be an http") as caught:
        Webhook(url=url + TOKEN)
    assert TOKEN not in str(caught.value)


def test_secrets_never_appear_in_the_repr():
    hook = Webhook(url=f"https://hooks.example.com/{TOKEN}", headers={"X-Key": HEADER_VALUE})
    email = Email(
        smtp_server="smtp.example.com",
        username="plait",
        password="sm7p-pa55word",
        from_address="plait@example.com",
        to_addresses=["ops@example.com"],
    )
    assert TOKEN not in repr(hook)
    assert HEADER_VALUE not in repr(hook)
    assert "sm7p-pa55word" not in repr(email)


def test_a_saved_webhook_is_a_flow_failure_hook(http_server, recorder):
    webhook_to(http_server, headers={"X-Key": HEADER_VALUE}).save("ops")

    @flow(on_failure=[Webhook.load("ops")])
    def nightly():
        raise ValueError("the warehouse is down")

    assert nightly(return_state=True).name == "Failed"
    [run] = recorder.flow_runs()
    [request] = http_server.requests
    assert request.headers["x-key"] == HEADER_VALUE
    assert run.name in request.json["subject"]
    assert "Failed" in request.json["subject"]
    assert "the warehouse is down" in request.json["body"]
    duration = re.search(r"^Duration: (\d+\.\d+)s$", request.json["body"], re.MULTILINE)
    assert duration is not None
    assert 0 <= float(duration[1]) < 60


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4213, "0.42s"), (12.34, "12.3s"), (245, "4m 05s"), (7380, "2h 03m")],
)
def test_durations_read_naturally(seconds, shown):
    assert format_duration(seconds) == shown


def test_a_run_that_never_started_has_no_duration(http_server):
    @task(on_failure=[webhook_to(http_server)])
    def never_runs(x: int) -> int:
        return x

    @flow
    def pipeline() -> None:
        never_runs(upstream_fails(return_state=True))

    pipeline(return_state=True)

    [request] = http_server.requests
    assert "Task run 'never_runs-0' of 'never_runs' is Failed" in request.json["body"]
    assert "Duration" not in request.json["body"]


@task
def upstream_fails() -> int:
    raise ValueError("no input")


# Email


@pytest.mark.parametrize("mode", ["plain", "starttls", "ssl"])
def test_email_delivers_the_message(start_smtp_server, mode):
    server = start_smtp_server(mode)
    email_to(server).notify("The nightly flow failed.\nSee the logs.", subject="nightly failed")

    mail = server.wait_for_message()
    assert mail.mail_from == "plait@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "data@example.com"]
    assert mail.login == (None if mode == "plain" else server.username)
    assert mail.message["Subject"] == "nightly failed"
    assert mail.message["From"] == "plait@example.com"
    assert mail.message["To"] == "ops@example.com, Data Team <data@example.com>"
    assert mail.message.get_content() == "The nightly flow failed.\nSee the logs.\n"


def test_email_default_ports_follow_the_security():
    fields = {"smtp_server": "smtp.example.com", "from_address": "a@example.com"}
    ports = [
        Email(**fields, to_addresses=["b@example.com"], smtp_type=kind).port
        for kind in ("SSL", "STARTTLS", "INSECURE")
    ]
    assert ports == [465, 587, 25]


def test_a_wrong_password_is_a_block_error_without_the_password(start_smtp_server):
    server = start_smtp_server("starttls")
    email = email_to(server, password="wr0ng-pa55word")
    with pytest.raises(BlockError, match="refused the login of 'alerts'") as caught:
        email.notify("hello")
    assert "wr0ng-pa55word" not in str(caught.value)
    assert server.messages == []


def test_an_untrusted_certificate_is_a_block_error(start_smtp_server):
    email = email_to(start_smtp_server("ssl"), ca_file=None)
    with pytest.raises(BlockError, match="CERTIFICATE_VERIFY_FAILED"):
        email.notify("hello")


def test_a_saved_email_is_a_flow_completion_hook(start_smtp_server, recorder):
    server = start_smtp_server("starttls")
    email_to(server).save("data-team")

    @flow(on_completion=[Email.load("data-team")])
    def nightly():
        return 1

    nightly()
    [run] = recorder.flow_runs()
    mail = server.wait_for_message()
    assert mail.message["Subject"] == f"Flow run {run.name!r} of 'nightly' is Completed"
    assert f"Run id: {run.id}" in mail.message.get_content()


def test_check_reports_a_working_server(start_smtp_server):
    result = email_to(start_smtp_server("starttls")).check()
    assert result.ok, result.message
    assert "logged in as 'alerts'" in result.message
    assert result.latency > 0


def test_check_reports_a_closed_port(closed_port):
    email = Email(
        smtp_server="127.0.0.1",
        smtp_port=closed_port,
        from_address="plait@example.com",
        to_addresses=["ops@example.com"],
    )
    result = email.check()
    assert not result.ok
    assert f"127.0.0.1:{closed_port}" in result.message
    assert "Connection refused" in result.message


@pytest.mark.parametrize("addresses", [["ops@example.com", "bob"], []])
def test_bad_to_addresses_are_rejected_naming_the_field(addresses):
    with pytest.raises(ValidationError, match="to_addresses") as caught:
        Email(smtp_server="smtp.example.com", from_address="a@example.com", to_addresses=addresses)
    if addresses:
        assert "to_addresses[1]: 'bob' is not an email address" in str(caught.value)


def test_a_password_without_a_username_is_rejected():
    with pytest.raises(ValidationError, match="set username"):
        Email(
            smtp_server="smtp.example.com",
            password="pw",
            from_address="a@example.com",
            to_addresses=["b@example.com"],
        )
