"""Shipping the journal in the background: what every recorder that saves events somewhere
else (the run store, the API server) does the same way.

``record`` only appends to a queue, so a task run's hot path never waits for the
destination. A daemon thread delivers what has queued up every ``writer_interval_seconds``
(sooner when a batch is full); ``flush`` delivers everything right away and is called when
a top-level flow run ends and at interpreter exit.

A batch keeps its id until it is delivered: a batch that could not be delivered is retried
as it is, so a destination that saved it but could not say so (the answer was lost)
recognises it by its id and does not save it twice. Past ``writer_queue_limit`` events, or
while the destination cannot be reached at all, events go to the spool
(``plait.journal.spool``) and are delivered from there, oldest first, once it takes them
again: by this process, by the next process that records there, or by ``plait db replay``.
The same thread renews the heartbeat of this process's running flow runs.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import sys
import threading
import time
import uuid
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.journal.events import Event, RunCreated, RunResumed, StateChanged
from plait.journal.recorders import Recorder
from plait.journal.spool import Replayed, Segment, Spool, new_episode
from plait.state_rules import Ruling
from plait.states import FINAL_NAMES

if TYPE_CHECKING:
    from plait.journal.process import ProcessIdentity
    from plait.settings import Settings

_CATCH_UP_ROUNDS = 4  # spool segments delivered per drain, at most, while a flow keeps spooling


@dataclass(frozen=True, slots=True)
class Batch:
    """Events delivered together, under one id that a retry keeps."""

    id: str
    events: list[Event]


Failure = tuple[list[Batch], Exception]
"""The batches not delivered (in order: a batch may have been split), and why."""
_MAX_BACKOFF_SECONDS = 10.0  # the longest wait between two attempts at a failing destination


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class ShippingRecorder(Recorder):
    """A recorder that delivers events to a destination in batches, in the background,
    keeping in the spool what the destination cannot take yet."""

    logger = logging.getLogger("plait.journal")  # each destination reports under its own

    def __init__(self, destination: str, settings: Settings, process: ProcessIdentity) -> None:
        self.settings = settings
        self.process = process
        self._batch_size = settings.writer_batch_size
        self._queue_limit = settings.writer_queue_limit
        self._queue: deque[Event] = deque()
        self._pending: deque[Batch] = deque()  # batches being delivered (kept while they fail)
        self._attempts = 0  # failed deliveries in a row, for the backoff
        self._retry_at = 0.0
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._connected = False
        self._failing = False
        self._last_failure = "no failure was reported"
        self._active_flow_runs: set[str] = set()
        self._rulings: dict[str, Ruling] = {}  # the last ruling on each run's reports
        self._spool = Spool(settings.home / "spool")
        self._destination = destination
        self._spill_lock = threading.Lock()
        self._spilling = False
        self._segments: list[Segment] = []  # this process's, oldest first; the last is open
        self._episode = self._part = 0  # the current run of segments, and its last part
        self.replayed = Replayed()
        self._replay_done = False
        if not self._open():
            self.logger.warning(
                "%s. This process's runs are kept in the spool at %s and saved when %s can be "
                "reached: by this process, by the next one that records runs there, or by "
                "`plait db replay`. %s",
                self._last_failure, self._spool.directory, self.where(), self.moved_hint(),
            )  # fmt: skip
            self._start_spilling()
        self._thread = threading.Thread(target=self._run, name=self.thread_name(), daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # What each destination does its own way.

    @abstractmethod
    def describe(self) -> str:
        """The destination, for messages (no password)."""

    @abstractmethod
    def where(self) -> str:
        """The destination in a sentence: "the run store at ...", "the server at ..."."""

    @abstractmethod
    def moved_hint(self) -> str:
        """What to check when the destination cannot be reached at all."""

    @abstractmethod
    def thread_name(self) -> str: ...

    @abstractmethod
    def connect(self) -> None:
        """Get ready to deliver (open the store); raises what stands in the way."""

    @abstractmethod
    def deliver(self, batch: Batch, process: ProcessIdentity) -> Failure | None:
        """Save ``batch`` (events ``process`` recorded) in order; returns what was not saved
        (a batch retried keeps its id)."""

    @abstractmethod
    def deliver_segment(
        self, segment: Segment, process: ProcessIdentity, delivered: Callable[[list[Event]], None]
    ) -> Exception | None:
        """Save a spool segment's events, so that a replay cut short (a kill between saving
        and deleting the file) is never saved twice; calls ``delivered`` with each part
        saved. Returns the failure, if any (the segment is then kept)."""

    @abstractmethod
    def beat(self, active_flow_runs: list[str]) -> None:
        """Renew the heartbeat of these flow runs (this process's running ones)."""

    def periodic(self) -> None:
        """Anything else the writer thread does once the destination is open (retention)."""

    # The hot path: the engine calls these for every event.

    def record(self, event: Event) -> None:
        if self._spilling:
            self._spill([event])
            return
        queue = self._queue
        queue.append(event)
        queued = len(queue)
        if queued == self._batch_size:  # a full batch: wake the writer, once
            self._wake.set()
        if queued >= self._queue_limit:
            self._start_spilling()

    def record_many(self, events: list[Event]) -> None:
        if self._spilling:
            self._spill(events)
            return
        self._queue.extend(events)
        queued = len(self._queue)
        if queued >= self._batch_size:
            self._wake.set()
        if queued >= self._queue_limit:
            self._start_spilling()

    # The spool.

    def _open(self) -> bool:
        """Connect; False, with the failure noted, if the destination cannot be reached."""
        try:
            self.connect()
        except Exception as exc:
            self._failing, self._last_failure = True, self.describe_failure(exc)
            return False
        self._connected = True
        return True

    def describe_failure(self, exc: BaseException) -> str:
        """A failure in one line, for messages."""
        return str(exc) or type(exc).__name__

    def _start_spilling(self) -> None:
        """Send events to a new spool segment from now on, if one can be created (if not,
        they stay in memory: nothing is dropped)."""
        with self._spill_lock:
            if self._spilling:
                return
            self._new_episode()
            try:
                self._segments.append(self._new_segment())
            except OSError as exc:
                self.logger.error(
                    "Cannot keep events in the spool at %s (%s); they are kept in memory.",
                    self._spool.directory, exc,
                )  # fmt: skip
                self._queue_limit = sys.maxsize
                return
            self._spilling = True
        if self._connected:
            self.logger.warning(
                "%s is %d events behind; further events are kept in the spool at %s until it "
                "catches up (writer_queue_limit).",
                _sentence(self.where()), len(self._queue), self._spool.directory,
            )  # fmt: skip

    def _new_episode(self) -> None:
        self._episode, self._part = new_episode(), 0

    def _new_segment(self) -> Segment:
        """The next segment of the current episode."""
        self._part += 1
        identity = dataclasses.asdict(self.process)
        return self._spool.open_segment(self._destination, identity, self._episode, self._part)

    def _spill(self, events: list[Event]) -> None:
        with self._spill_lock:
            if self._spilling:
                try:
                    self._segments[-1].append(events)
                    return
                except OSError as exc:  # a full disk: keep them in memory instead
                    self._report_failure(exc)
            self._queue.extend(events)

    def _catch_up(self) -> Exception | None:
        """Deliver this process's spooled events, oldest segment first; once all are
        delivered and nothing new was spooled, go back to queueing in memory. Returns the
        failure, if any."""
        for _ in range(_CATCH_UP_ROUNDS):  # a busy flow keeps spooling: the next drain goes on
            with self._spill_lock:
                current = self._segments[-1]
                if current.count == 0 and len(self._segments) == 1:
                    current.discard()
                    self._segments.clear()
                    self._spilling = False
                    return None
                if current.count:
                    self._segments.append(self._new_segment())
                closed = self._segments[:-1]
            for segment in closed:
                failure = self._replay(segment)
                if failure is not None:
                    return failure
                with self._spill_lock:
                    self._segments.remove(segment)
        return None

    def replay_spool(self) -> Replayed:
        """Deliver the spooled events that processes no longer running left for this
        destination (they could not reach it, or it was behind when they stopped). Done
        once when the writer starts; returns what this writer has replayed so far."""
        with self._drain_lock, self._spool.replaying() as held:
            if not held or not self._connected:
                return self.replayed
            for segment in self._spool.claim_segments(self._destination):
                failure = self._replay(segment)
                if failure is not None:
                    segment.close()
                    raise failure
        return self.replayed

    def _replay_left_behind(self) -> None:
        """Replay the spool once, when the destination is first open (at the latest, at
        exit)."""
        if not self._replay_done:
            self._replay_done = self._guarded(self.replay_spool)

    def _replay(self, segment: Segment) -> Exception | None:
        """Deliver a segment and delete it; returns the failure, if any (it is then kept)."""
        process = type(self.process)(**segment.header["process"])

        def delivered(events: list[Event]) -> None:
            self.replayed.add(len(events))
            self._track(events, process)

        failure = self.deliver_segment(segment, process, delivered)
        if failure is not None:
            return failure
        self.replayed.segments += 1
        segment.discard()
        return None

    # Delivering.

    def ruled(self, rulings: list[tuple[str, Ruling]]) -> None:
        """Keep the destination's rulings on this process's reports, for ``ruling``."""
        for run_id, ruling in rulings:
            self._rulings[run_id] = ruling

    def ruling(self, run_id: str) -> Ruling | None:
        return self._rulings.get(run_id)

    def flush(self) -> None:
        """Deliver everything recorded so far, in this thread (or, while the destination
        cannot be reached, hand the spool's events to the operating system). Never raises:
        a failure is logged and the events are kept for the next attempt."""
        self._drain()
        with self._spill_lock:
            if self._spilling:
                self._segments[-1].flush()

    def close(self) -> None:
        """Flush, then stop the writer thread (called at interpreter exit). What could not
        be delivered is left in the spool for a later process."""
        atexit.unregister(self.close)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=max(5.0, self.settings.writer_interval_seconds * 4))
        if self._connected:
            self._replay_left_behind()
        self._drain()
        with self._spill_lock:
            self._spool_queue()
            kept = sum(segment.count for segment in self._segments)
            for segment in self._segments:
                segment.close()
            self._segments.clear()
            self._spilling = False
        if unsaved := self._unsaved() + kept:
            where = (
                f" They are kept in the spool at {self._spool.directory} and will be saved by "
                "the next process that records runs there, or by `plait db replay`."
                if kept
                else ""
            )
            to = f" to {self.where()}" if self._connected else ""
            self.logger.error(
                "%d recorded events could not be saved%s: %s.%s",
                unsaved, to, self._last_failure, where,
            )  # fmt: skip

    def _unsaved(self) -> int:
        """Events waiting in memory: the undelivered batches and the queue."""
        return len(self._queue) + sum(len(batch.events) for batch in self._pending)

    def _spool_queue(self) -> None:
        """Move what waits in memory to the spool, ahead of this process's segments: each
        undelivered batch in a segment of its own, named by its id (so that delivering it
        later is recognised as the same batch), then the queue."""
        episode = self._episode - 1 if self._spilling else new_episode()  # sorts just before
        waiting = [*self._pending]
        if self._queue:
            waiting.append(Batch(str(uuid.uuid4()), list(self._queue)))
        identity = dataclasses.asdict(self.process)
        for part, batch in enumerate(waiting):
            try:
                segment = self._spool.open_segment(
                    self._destination, identity, episode, part, batch.id
                )
                segment.append(batch.events)
            except OSError as exc:
                self._last_failure += f"; nor could they be kept in the spool ({exc})"
                return
            self._segments.insert(part, segment)
            if self._pending:
                self._pending.popleft()
            else:
                self._queue.clear()

    def _run(self) -> None:
        next_beat = 0.0
        while not self._closed:
            self._wake.wait(self.settings.writer_interval_seconds)
            self._wake.clear()
            if not self._connected and not self._open():
                continue
            if self._failing and time.monotonic() < self._retry_at:
                continue  # backing off
            self._replay_left_behind()
            self._drain()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.settings.heartbeat_interval_seconds
                self._guarded(self.heartbeat)
            self.periodic()

    def _drain(self) -> None:
        with self._drain_lock:
            if not self._connected:
                return
            failure = self._deliver_queue()
            if failure is None and self._segments:
                failure = self._catch_up()
            if failure is not None:
                self._report_failure(failure)
                return
            self._attempts = 0
            if self._failing:
                self.logger.warning("%s works again.", _sentence(self.where()))
                self._failing = False

    def _deliver_queue(self) -> Exception | None:
        """Deliver the queue in batches; on a failure, what is not delivered stays pending,
        under its batch ids, and the failure is returned."""
        while self._pending or self._queue:
            if not self._pending:
                events: list[Event] = []
                try:
                    while len(events) < self._batch_size:
                        events.append(self._queue.popleft())
                except IndexError:
                    pass
                self._pending.append(Batch(str(uuid.uuid4()), events))
            batch = self._pending[0]
            failure = self.deliver(batch, self.process)
            if failure is not None:
                unsent, exc = failure
                self._pending.popleft()
                self._pending.extendleft(reversed(unsent))
                return exc
            self._track(batch.events, self.process)
            self._pending.popleft()
        return None

    def _track(self, events: list[Event], process: ProcessIdentity) -> None:
        """Keep the set of this process's running flow runs, whose heartbeat it renews."""
        if process != self.process:
            return
        active = self._active_flow_runs
        for event in events:
            kind = type(event)
            if (kind is RunCreated and event.kind == "flow") or kind is RunResumed:
                active.add(event.run_id)
            elif kind is StateChanged and event.kind == "flow" and event.state in FINAL_NAMES:
                active.discard(event.run_id)

    def _report_failure(self, exc: Exception) -> None:
        self._last_failure = self.describe_failure(exc)
        self._attempts += 1
        backoff = self.settings.writer_interval_seconds * 2 ** min(self._attempts, 10)
        self._retry_at = time.monotonic() + min(backoff, _MAX_BACKOFF_SECONDS)
        if not self._failing:
            self.logger.warning(
                "Could not save runs to %s (%s); %d events are kept and will be retried.",
                self.where(), self._last_failure,
                self._unsaved() + sum(segment.count for segment in self._segments),
            )  # fmt: skip
        self._failing = True

    def _guarded(self, step: Callable[[], Any]) -> bool:
        try:
            step()
        except Exception as exc:
            self._report_failure(exc)
            return False
        return True

    def heartbeat(self) -> None:
        """Renew the heartbeat of this process's running flow runs (the writer thread does
        this every ``heartbeat_interval_seconds``)."""
        with self._drain_lock:
            active = list(self._active_flow_runs)
        self.beat(active)
