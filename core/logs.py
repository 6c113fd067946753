"""Run loggers: every record goes to the journal, tagged with its run, and to the console.

Console output goes to stderr, rendered by rich when stderr is a terminal. The
``logging_level`` setting (``PLAIT_LOGGING_LEVEL``, default ``INFO``) sets the level.
Handlers are attached on the first run, not at import, so ``import plait`` stays light and
never touches the user's logging configuration.
"""

from __future__ import annotations

import builtins
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from plait import journal
from plait.context import current_context, flow_run_var, get_run_context
from plait.engine.runs import Run
from plait.runs import LogRecord

FLOW_RUN_LOGGER = "plait.flow_runs"
TASK_RUN_LOGGER = "plait.task_runs"

_setup_lock = threading.Lock()
_is_set_up = False


class JournalHandler(logging.Handler):
    """Records every log line as a ``LogRecord`` event in the run journal."""

    def __init__(self) -> None:
        super().__init__()
        self._traceback_formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        task_run_id = getattr(record, "task_run_id", None)
        if flow_run_id is None and task_run_id is None:
            return  # not a run's log line (e.g. the store reporting on itself)
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self._traceback_formatter.formatException(record.exc_info)
            journal.record(
                LogRecord(
                    flow_run_id=flow_run_id,
                    task_run_id=task_run_id,
                    level=record.levelno,
                    logger=record.name,
                    message=message,
                    timestamp=datetime.fromtimestamp(record.created, UTC),
                )
            )
        except Exception:
            self.handleError(record)


class RunFormatter(logging.Formatter):
    """Puts the name of the run that wrote a line before its message (``%(run)s``)."""

    def __init__(self, fmt: str = "%(run)s%(message)s", datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def format(self, record: logging.LogRecord) -> str:
        run_name = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        record.run = f"{run_name} | " if run_name else ""
        return super().format(record)


def _console_handler() -> logging.Handler:
    """Rich's coloured, aligned lines on a terminal; elsewhere plain lines with the same
    content (time, level, run, message), which spare rich's import."""
    if not sys.stderr.isatty():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            RunFormatter("%(asctime)s %(levelname)-8s %(run)s%(message)s", "%H:%M:%S")
        )
        return handler
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(
        console=Console(stderr=True),
        show_path=False,
        markup=False,
        log_time_format="%H:%M:%S",
    )
    handler.setFormatter(RunFormatter())
    return handler


def setup_logging() -> None:
    """Attach Plait's handlers to the ``plait`` logger, once per process."""
    global _is_set_up
    if _is_set_up:
        return
    with _setup_lock:
        if _is_set_up:
            return
        from plait.settings import load_settings

        logger = logging.getLogger("plait")
        logger.setLevel(load_settings().logging_level)
        logger.propagate = False
        logger.addHandler(JournalHandler())
        logger.addHandler(_console_handler())
        _is_set_up = True


_RUN_LOGGERS = {
    "flow": logging.getLogger(FLOW_RUN_LOGGER),
    "task": logging.getLogger(TASK_RUN_LOGGER),
}


def run_logger(run: Run, flow_run_name: str | None = None) -> logging.LoggerAdapter[Any]:
    """A logger whose records carry the ids and names of ``run`` and of its flow run.

    Records get ``flow_run_id``, ``flow_run_name``, ``task_run_id`` and ``task_run_name``
    attributes (None where they do not apply, or where the flow run's name is unknown, as in
    a worker process). A task run's flow run name is read from the context unless given.
    """
    if run.kind == "flow":
        extra = {"flow_run_id": run.id, "flow_run_name": run.name}
        extra.update(task_run_id=None, task_run_name=None)
        return logging.LoggerAdapter(_RUN_LOGGERS["flow"], extra)
    if flow_run_name is None:
        flow_context = flow_run_var.get()
        flow_run_name = flow_context.flow_run.name if flow_context is not None else None
    extra = {"flow_run_id": run.flow_run_id, "flow_run_name": flow_run_name}
    extra.update(task_run_id=run.id, task_run_name=run.name)
    return logging.LoggerAdapter(_RUN_LOGGERS["task"], extra)


def log_for_run(run: Run, level: int, message: str, *args: Any, exc_info: Any = None) -> None:
    """Log on ``run``'s logger, building the adapter only if the level is enabled (hot path)."""
    if _RUN_LOGGERS[run.kind].isEnabledFor(level):
        run_logger(run).log(level, message, *args, exc_info=exc_info)


def get_run_logger() -> logging.LoggerAdapter[Any]:
    """The logger of the run in progress: use it inside flows and tasks.

    Raises ``MissingContextError`` outside any flow or task.
    """
    return run_logger(get_run_context().run)


_builtin_print = builtins.print


def _print(*args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
           flush: bool = False) -> None:  # fmt: skip
    """``print``, sent to the run logger when the run in progress has ``log_prints=True``."""
    if file is None or file is sys.stdout:
        context = current_context()
        if context is not None and context.log_prints:
            run_logger(context.run).info((" " if sep is None else sep).join(map(str, args)))
            return
    _builtin_print(*args, sep=sep, end=end, file=file, flush=flush)


def capture_prints() -> None:
    """Route ``print`` through ``_print``; done once, the first time a run asks for it."""
    if builtins.print is not _print:
        builtins.print = _print
