"""Notification blocks: send a message somewhere, by hand or as a flow's state hook."""

from __future__ import annotations

import re
import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, JsonValue, SecretStr, field_validator, model_validator

from plait.blocks.block import Block, CheckResult
from plait.blocks.fields import MASK, SecretDict
from plait.exceptions import BlockError

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PLACEHOLDERS = ("body", "subject")
DEFAULT_SUBJECT = "Plait notification"
SMTP_PORTS = {"SSL": 465, "STARTTLS": 587, "INSECURE": 25}
ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class NotificationBlock(Block, ABC):
    """Sends a message. Any notification block is also a state hook::

        @flow(on_failure=[Webhook.load("ops")])

    sends the run's name, its state and the state's message when the flow fails.
    """

    @abstractmethod
    def notify(self, body: str, subject: str | None = None) -> None:
        """Send ``body`` (with ``subject`` where the channel has one); raises if it fails."""

    def __call__(self, flow_or_task: Any, run: Any, state: Any) -> None:
        """Used as a state hook: notify about ``run`` entering ``state``."""
        self.notify_run(RunNotice.of(flow_or_task, run, state))

    def notify_run(self, notice: RunNotice) -> None:
        """Send ``notice`` as plain text; channels with rich formatting override this."""
        self.notify(notice.body(), subject=notice.subject)


@dataclass(frozen=True)
class RunNotice:
    """What a state hook reports: which run of which flow or task entered which state, the
    state's message, and how long the run took (None if it never started)."""

    kind: str  # "Flow run" or "Task run"
    run_name: str
    owner: str  # the flow's or task's name
    state: str
    message: str | None
    run_id: str
    duration: float | None

    @classmethod
    def of(cls, flow_or_task: Any, run: Any, state: Any) -> RunNotice:
        kind = "Flow run" if getattr(run, "kind", "flow") == "flow" else "Task run"
        started = getattr(run, "started", None)
        duration = None if started is None else (state.timestamp - started).total_seconds()
        return cls(kind, run.name, flow_or_task.name, state.name, state.message, run.id, duration)

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.run_name!r} of {self.owner!r} is {self.state}"

    def body(self) -> str:
        lines = [f"{self.subject}."]
        if self.message:
            lines.append(self.message)
        if self.duration is not None:
            lines.append(f"Duration: {format_duration(self.duration)}")
        lines.append(f"Run id: {self.run_id}")
        return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``4m 05s``, ``2h 03m``."""
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


class Webhook(NotificationBlock):
    """Sends a notification as an HTTP request with a JSON body to any URL: chat tools,
    incident tools, your own services.

    ``json_body`` is a JSON template: every ``{{body}}`` and ``{{subject}}`` in its strings
    (keys included) is replaced by the message's body and subject (an empty string when
    there is no subject). The URL and the headers are secrets: they are masked everywhere
    and never appear in an error, which names only the URL's scheme and host.
    """

    _documentation_url = "https://plait.dev/docs/blocks#notifications"
    _code_example = """
        from plait import flow
        from plait.blocks import Webhook

        Webhook(
            url="https://hooks.example.com/services/T0K3N",
            headers={"Authorization": "Bearer s3cr3t"},
            json_body={"text": "{{subject}}: {{body}}"},
        ).save("ops")

        @flow(on_failure=[Webhook.load("ops")])
        def nightly(): ...
    """

    url: SecretStr
    method: Literal["POST", "PUT", "PATCH", "GET"] = "POST"
    headers: SecretDict = Field(default_factory=lambda: SecretDict({}))
    json_body: JsonValue = Field(
        default_factory=lambda: {"subject": "{{subject}}", "body": "{{body}}"}
    )
    timeout_seconds: float = Field(10, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if _origin(value.get_secret_value()) is None:
            raise ValueError(
                "url must be an http:// or https:// URL with a host (and a numeric port, if any)"
            )
        return value

    @field_validator("json_body")
    @classmethod
    def _known_placeholders(cls, value: JsonValue) -> JsonValue:
        used = {name for text in _strings(value) for name in PLACEHOLDER.findall(text)}
        if unknown := sorted(used.difference(PLACEHOLDERS)):
            allowed = " and ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)
            names = ", ".join(f"{{{{{name}}}}}" for name in unknown)
            raise ValueError(
                f"json_body uses unknown placeholder {names}; "
                f"the allowed placeholders are {allowed}"
            )
        return value

    def notify(self, body: str, subject: str | None = None) -> None:
        """Send the rendered ``json_body``; a non-2xx answer or a connection error raises
        ``BlockError``."""
        import httpx

        values = {"body": body, "subject": subject or ""}
        url = self.url.get_secret_value()
        origin = _origin(url)
        headers = {str(k): str(v) for k, v in self.headers.get_secret_value().items()}
        secrets = [url, urlunsplit(("", "", *urlsplit(url)[2:])), *headers.values()]
        try:
            response = httpx.request(
                self.method,
                url,
                headers=headers,
                json=_render(self.json_body, values),
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            detail = _redact(f"{type(exc).__name__}: {exc}", secrets)
            raise BlockError(f"Webhook {self.method} to {origin} failed: {detail}") from None
        if not response.is_success:
            raise BlockError(
                f"Webhook {self.method} to {origin} answered {response.status_code} "
                f"{response.reason_phrase}; check the URL, the headers and the JSON body."
            )


class Email(NotificationBlock):
    """Sends a notification as an email through an SMTP server.

    ``smtp_type`` picks the connection's security: ``STARTTLS`` (the default, port 587),
    ``SSL`` (TLS from the start, port 465) or ``INSECURE`` (no encryption, port 25);
    ``smtp_port`` overrides the port. Certificates are verified against the system's CAs,
    or against ``ca_file`` for a private CA. It logs in only when ``username`` is set.
    """

    _documentation_url = "https://plait.dev/docs/blocks#notifications"
    _code_example = """
        from plait import flow
        from plait.blocks import Email

        Email(
            smtp_server="smtp.example.com",
            username="plait@example.com",
            password="s3cr3t",
            from_address="plait@example.com",
            to_addresses=["data-team@example.com"],
        ).save("data-team")

        @flow(on_failure=[Email.load("data-team")])
        def nightly(): ...
    """

    smtp_server: str = Field(min_length=1)
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_type: Literal["SSL", "STARTTLS", "INSECURE"] = "STARTTLS"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    to_addresses: list[str] = Field(min_length=1)
    ca_file: str | None = None
    timeout_seconds: float = Field(10, gt=0)

    @field_validator("from_address")
    @classmethod
    def _from_is_an_address(cls, value: str) -> str:
        return _check_address("from_address", value)

    @field_validator("to_addresses")
    @classmethod
    def _to_are_addresses(cls, value: list[str]) -> list[str]:
        return [_check_address(f"to_addresses[{i}]", item) for i, item in enumerate(value)]

    @model_validator(mode="after")
    def _password_needs_username(self) -> Email:
        if self.password is not None and self.username is None:
            raise ValueError("password is set but username is not; set username to log in")
        return self

    @property
    def port(self) -> int:
        """``smtp_port``, or the standard port of ``smtp_type``."""
        return self.smtp_port or SMTP_PORTS[self.smtp_type]

    def notify(self, body: str, subject: str | None = None) -> None:
        """Send ``body`` to every address in ``to_addresses``; raises ``BlockError`` if the
        server cannot be reached, refuses the login or refuses the message."""
        message = EmailMessage()
        message["Subject"] = subject or DEFAULT_SUBJECT
        message["From"] = self.from_address
        message["To"] = ", ".join(self.to_addresses)
        message.set_content(body)
        with self._session() as smtp:
            smtp.send_message(message)

    def check(self) -> CheckResult:
        """Connect, start TLS as configured, log in if configured, and send NOOP."""
        return CheckResult.measure(self._round_trip)

    def _round_trip(self) -> str:
        with self._session() as smtp:
            code, _ = smtp.noop()
        login = f", logged in as {self.username!r}" if self.username is not None else ""
        return f"connected to {self._where()}{login}; NOOP answered {code}"

    def _where(self) -> str:
        return f"{self.smtp_server}:{self.port} ({self.smtp_type})"

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """A connected (and logged in) SMTP session; its errors become ``BlockError``."""
        password = self.password.get_secret_value() if self.password is not None else ""
        try:
            with self._connect() as smtp:
                if self.smtp_type == "STARTTLS":
                    smtp.starttls(context=self._tls_context())
                if self.username is not None:
                    smtp.login(self.username, password)
                yield smtp
        except smtplib.SMTPAuthenticationError as exc:
            raise BlockError(
                f"SMTP server {self._where()} refused the login of {self.username!r}: "
                f"{_redact(_smtp_detail(exc), [password])}; check username and password."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise BlockError(
                f"SMTP server {self._where()}: {_redact(_smtp_detail(exc), [password])}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        if self.smtp_type == "SSL":
            return smtplib.SMTP_SSL(
                self.smtp_server,
                self.port,
                timeout=self.timeout_seconds,
                context=self._tls_context(),
            )
        return smtplib.SMTP(self.smtp_server, self.port, timeout=self.timeout_seconds)

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (all of it an error may show), or None if
    ``url`` is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _strings(value: JsonValue) -> Iterator[str]:
    """Every string in a JSON value, dict keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _render(value: JsonValue, values: dict[str, str]) -> JsonValue:
    """``value`` with every placeholder in its strings replaced by its value."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], value)
    if isinstance(value, dict):
        return {_render(key, values): _render(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, values) for item in value]
    return value


def _redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (longer than one character) masked, longest first."""
    for secret in sorted((s for s in secrets if len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _smtp_detail(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    return f"{type(exc).__name__}: {exc}"


def _check_address(field: str, value: str) -> str:
    if not ADDRESS.fullmatch(parseaddr(value)[1]):
        raise ValueError(
            f"{field}: {value!r} is not an email address; use e.g. 'ops@example.com' "
            "or 'Ops <ops@example.com>'"
        )
    return value
