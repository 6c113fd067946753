"""A serving process (``flow.serve()``, ``plait.serve(d1, d2)``): it saves its deployments,
then runs their due flow runs, scheduled or asked for, each in a subprocess of its own
(``plait.workers.execute``), until Ctrl-C or SIGTERM.

Every ``serve_poll_seconds`` it claims the runs that are due (the store hands each to one
claimer only, within the deployments' concurrency limits) and starts them. With no server
it is also the scheduler (``plait.scheduler.service``); against a server, the server is.
On Ctrl-C or SIGTERM it stops claiming, lets running flow runs finish for up to
``serve_grace_seconds``, then cancels those still running (a second Ctrl-C cancels them at
once). Its flow runs run in their own process group, so a Ctrl-C in the terminal reaches
only the serving process, which decides what becomes of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from plait.backend.deployments import ClaimedRun
from plait.client import Client, get_client
from plait.deployments import Deployment
from plait.exceptions import InvalidOptionError, PlaitError
from plait.journal.process import ProcessIdentity
from plait.logs import setup_logging
from plait.scheduler.service import SchedulerService
from plait.settings import Settings, load_settings
from plait.states import FINAL_TYPES, StateType

logger = logging.getLogger("plait.serve")
_REMEMBERED_STARTS = 10_000  # started runs remembered, against starting one twice
KILL_AFTER_SECONDS = 10.0  # a flow run process still alive this long after SIGTERM is killed


class ServingProcess:
    """Runs the due flow runs of ``deployments`` (saved on creation), at most ``limit``
    at once (None: no limit of its own)."""

    def __init__(
        self,
        deployments: Sequence[Deployment],
        limit: int | None = None,
        client: Client | None = None,
        settings: Settings | None = None,
    ) -> None:
        if not deployments:
            raise InvalidOptionError(
                "plait.serve() needs at least one deployment: pass flow.to_deployment(...)."
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):  # fmt: skip
            raise InvalidOptionError(
                f"plait.serve(): limit must be a whole number of at least 1, or None for no "
                f"limit; got {limit!r}."
            )
        self.settings = settings or load_settings()
        self.client = client or get_client()
        self.records = [self.client.save_deployment(deployment) for deployment in deployments]
        self.limit = limit
        self.grace = timedelta(seconds=self.settings.late_after_seconds)
        self.scheduler = None
        if self.settings.api_url is None:  # no server: this process schedules its deployments
            self.scheduler = SchedulerService(self.client, self.settings)
        self.identity = ProcessIdentity.current()
        self.children: dict[str, tuple[ClaimedRun, subprocess.Popen[bytes]]] = {}
        # Runs started here, latest last: a claimed run is handed again while the store has
        # it Pending, which it stays if its process's records are still on their way (in the
        # spool, while the server is down); it must not start twice.
        self.started: dict[str, None] = {}
        self.stopping = False
        self._hurry = False
        # stop() writes here to wake the loop: safe in a signal handler, unlike an Event's lock
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> None:
        """Serve until Ctrl-C or SIGTERM (or ``stop()``), then shut down."""
        setup_logging()
        restore = self._handle_signals()
        names = ", ".join(repr(record.name) for record in self.records)
        logger.info("Serving deployment(s) %s; press Ctrl-C to stop.", names)
        try:
            while not self.stopping:
                try:
                    self.tick()
                except Exception as exc:  # the store or server unreachable: try again
                    logger.warning("Could not look for due runs: %s: %s", type(exc).__name__, exc)
                self._sleep(self.settings.serve_poll_seconds)
        finally:
            self.shutdown()
            restore()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def tick(self, now: datetime | None = None) -> list[ClaimedRun]:
        """Schedule (with no server), reap finished flow run processes, and start the runs
        that are due at ``now``; returns those started."""
        now = datetime.now(UTC) if now is None else now
        if self.scheduler is not None:
            self.scheduler.tick(now)
        self.reap()
        room = 1_000 if self.limit is None else self.limit - len(self.children)
        claimed = [
            run
            for run in self.client.claim_deployment_runs(
                [record.id for record in self.records], now, self.grace, room, self.identity
            )
            if run.id not in self.started  # handed again, but started already
        ]
        for run in claimed:
            self._start(run)
        return claimed

    def stop(self, hurry: bool = False) -> None:
        """Ask ``run()`` to stop (``hurry``: cancel running flow runs without the grace)."""
        self._hurry = self._hurry or hurry
        self.stopping = True
        os.write(self._wake_write, b"!")

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or until ``stop()``."""
        if select.select([self._wake_read], [], [], max(seconds, 0))[0]:
            os.read(self._wake_read, 64)

    def reap(self) -> None:
        """Forget flow run processes that ended. One killed (by a signal, or out of memory)
        leaves its run Crashed, saying how it ended, if the run is not recorded finished;
        those that exit 0, 1 or 2 recorded their run's end themselves (it may still be on
        its way, from the spool)."""
        for run_id, (run, process) in list(self.children.items()):
            code = process.poll()
            if code is None:
                continue
            del self.children[run_id]
            if code not in (0, 1, 2):
                self._finish(run, StateType.CRASHED, f"Its process ended with exit code {code}.")

    def shutdown(self) -> None:
        """Let running flow runs finish for up to ``serve_grace_seconds``, then cancel the
        rest: each is recorded Cancelled, saying why, and its process stopped (SIGTERM, then
        SIGKILL)."""
        grace = self.settings.serve_grace_seconds
        if self.children and not self._hurry:
            logger.info(
                "Stopping: waiting up to %g s for %d flow run(s) to finish (Ctrl-C again to "
                "cancel them now).", grace, len(self.children),
            )  # fmt: skip
            deadline = time.monotonic() + grace
            while self.children and not self._hurry and time.monotonic() < deadline:
                self._sleep(min(0.1, deadline - time.monotonic()))
                self.reap()
        why = (
            f"Cancelled: the serving process stopped and the run did not finish within "
            f"serve_grace_seconds ({grace:g} s)."
        )
        for run_id, (run, process) in self.children.items():
            logger.info("Cancelling flow run %r (%s)", run.name, run_id)
            self._finish(run, StateType.CANCELLED, why)  # what its process reports next is
            _signal_group(process, signal.SIGTERM)  # kept in its history, but changes nothing
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        for _, process in self.children.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.children.clear()
        logger.info("Stopped serving.")

    def _start(self, run: ClaimedRun) -> None:
        logger.info(
            "Starting flow run %r (%s) of deployment %r", run.name, run.id, run.deployment_name
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "plait.workers.execute", run.id], start_new_session=True
        )
        self.children[run.id] = (run, process)
        self.started[run.id] = None
        if len(self.started) > _REMEMBERED_STARTS:
            del self.started[next(iter(self.started))]

    def _finish(self, run: ClaimedRun, state: StateType, message: str) -> None:
        """Leave ``run`` in ``state`` if its process ended before recording a final one."""
        try:
            recorded = self.client.read_flow_run(run.id).state
        except PlaitError:  # deleted meanwhile
            return
        if recorded not in FINAL_TYPES:
            self._set_state(run, state, message)

    def _set_state(self, run: ClaimedRun, state: StateType, message: str) -> None:
        try:
            self.client.set_flow_run_state(run.id, state, message)
        except PlaitError as exc:  # it finished meanwhile (the state rules refuse), say
            logger.debug("Flow run %s stays as it is: %s", run.id, exc)

    def _handle_signals(self) -> Any:
        """Ctrl-C and SIGTERM stop serving (a second one: without the grace). Returns what
        puts the previous handlers back. Outside the main thread, signals are left alone."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handle(signum: int, frame: Any) -> None:
            self.stop(hurry=self.stopping)

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to a flow run process and the processes it started (its own group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
