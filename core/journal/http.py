"""Shipping the journal to the API server (client mode, ``PLAIT_API_URL``): each batch is one
``POST /api/events`` request under the batch's id, so a batch retried after a lost answer, or
replayed from the spool, is saved by the server only once.

A batch the server finds too large (413) or not valid (422) saved nothing, so it is split
in halves under new ids until the event it refuses stands alone; that event is set aside in
the spool's ``rejected.jsonl``, and the events behind it are never blocked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import socket
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from plait.journal.events import Event
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch, Failure, ShippingRecorder
from plait.journal.spool import Segment, Spool, dumps
from plait.state_rules import Ruling

if TYPE_CHECKING:
    from plait.settings import Settings

MAX_BATCH_EVENTS = 10_000  # the most events one request may carry (the server refuses more)
_REFUSED_CONTENT = (413, 422)  # the server saved nothing of the batch: it may be split


class ServerAnswerError(Exception):
    """The server answered with an error (its status and its JSON ``detail``)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail

    @classmethod
    def of(cls, answer: httpx.Response) -> ServerAnswerError:
        try:
            detail = str(answer.json().get("detail", answer.text))
        except (ValueError, AttributeError):
            detail = answer.text[:200] or answer.reason_phrase
        return cls(answer.status_code, detail)


def destination(api_url: str) -> str:
    """The spool's name for events bound for the server at ``api_url``."""
    return hashlib.sha256(f"api:{api_url.rstrip('/')}".encode()).hexdigest()[:32]


def batch_body(batch: Batch, process: ProcessIdentity) -> bytes:
    """``POST /api/events``'s body for ``batch``."""
    body = {"batch": batch.id, "process": dataclasses.asdict(process), "events": batch.events}
    return dumps(body).encode()


def post_batch(
    http: httpx.Client,
    spool: Spool,
    batch: Batch,
    process: ProcessIdentity,
    rulings: list[tuple[str, Ruling]],
) -> Failure | None:
    """Deliver ``batch`` to the server; returns what was not delivered. A batch the server
    refuses as too large or not valid is split (see the module's docstring). The server's
    rulings on its reports (``plait.state_rules``) are added to ``rulings``."""
    try:
        answer = http.post(
            "/events",
            content=batch_body(batch, process),
            headers={"Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        return [batch], exc
    if answer.status_code == 200:
        rulings += map(Ruling.from_json, answer.json().get("rulings", ()))
        return None
    refusal = ServerAnswerError.of(answer)
    if answer.status_code not in _REFUSED_CONTENT:
        return [batch], refusal
    if len(batch.events) == 1:
        path = spool.set_aside(batch.events[0], f"the server refused it: {refusal}")
        logging.getLogger("plait.journal").warning(
            "The server refused an event (%s); it was set aside in %s.", refusal, path
        )
        return None
    middle = len(batch.events) // 2
    halves = [
        Batch(str(uuid.uuid5(uuid.UUID(batch.id), half)), events)
        for half, events in (("first", batch.events[:middle]), ("second", batch.events[middle:]))
    ]
    for position, half in enumerate(halves):
        failure = post_batch(http, spool, half, process, rulings)
        if failure is not None:
            unsent, exc = failure
            return [*unsent, *halves[position + 1 :]], exc
    return None


def segment_batch_id(segment: Segment, part: int) -> str:
    """The batch id of part ``part`` of a spool segment. The first part is the segment's own
    id: a batch spooled because it could not be delivered keeps its id that way."""
    return segment.id if part == 0 else str(uuid.uuid5(uuid.UUID(segment.id), str(part)))


class HttpRecorder(ShippingRecorder):
    """A recorder that ships every event to the API server, in the background."""

    def __init__(self, api_url: str, api_key: str | None, settings: Settings) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._http: httpx.Client | None = None
        super().__init__(destination(api_url), settings, ProcessIdentity.current())
        self._batch_size = min(self._batch_size, MAX_BATCH_EVENTS)

    def describe(self) -> str:
        return self.api_url

    def where(self) -> str:
        return f"the server at {self.api_url}"

    def moved_hint(self) -> str:
        return "Check api_url (PLAIT_API_URL), and that `plait server start` runs there."

    def thread_name(self) -> str:
        return "plait-http-shipper"

    def connect(self) -> None:
        self._http = open_http(self.api_url, self._api_key)

    def deliver(self, batch: Batch, process: ProcessIdentity) -> Failure | None:
        assert self._http is not None, "delivering once connected"
        rulings: list[tuple[str, Ruling]] = []
        failure = post_batch(self._http, self._spool, batch, process, rulings)
        self.ruled(rulings)
        return failure

    def deliver_segment(
        self, segment: Segment, process: ProcessIdentity, delivered: Callable[[list[Event]], None]
    ) -> Exception | None:
        assert self._http is not None, "delivering once connected"
        for part, events in enumerate(segment.events(MAX_BATCH_EVENTS)):
            batch = Batch(segment_batch_id(segment, part), events)
            rulings: list[tuple[str, Ruling]] = []
            failure = post_batch(self._http, self._spool, batch, process, rulings)
            self.ruled(rulings)
            if failure is not None:
                return failure[1]
            delivered(events)
        return None

    def beat(self, active_flow_runs: list[str]) -> None:
        assert self._http is not None, "beating once connected"
        if not active_flow_runs:
            return
        answer = self._http.post("/flow_runs/heartbeat", json={"flow_run_ids": active_flow_runs})
        if not answer.is_success:
            raise ServerAnswerError.of(answer)

    def close(self) -> None:
        super().close()
        if self._http is not None:
            self._http.close()


def open_http(api_url: str, api_key: str | None, **options: Any) -> httpx.Client:
    """An HTTP client for the server at ``api_url``, sending ``api_key`` if given. Its
    sockets send at once (TCP_NODELAY): a request goes out as headers then body, and
    without it the body waits for the server's delayed acknowledgement, 40 ms a request."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = httpx.Timeout(30.0, connect=5.0)
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(
        base_url=api_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport,
        **options,
    )  # fmt: skip
