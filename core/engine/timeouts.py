"""Deadlines for synchronous code.

Python cannot stop a thread from outside. So a sync body with ``timeout_seconds`` runs in a
helper thread while its caller waits. At the deadline:

1. The caller stops waiting at once: the run ends ``TimedOut`` on time.
2. ``RunTimeoutError`` is raised inside the helper thread, asynchronously
   (``PyThreadState_SetAsyncExc``). It arrives at the next Python bytecode the thread runs.
   A pure-Python loop therefore stops almost immediately, and its ``finally`` blocks and
   context managers run. A blocking C call (``time.sleep``, a socket read, a long NumPy
   operation) runs to its end first, and the exception arrives after it returns.
3. Whatever the helper thread later returns is discarded. The thread is a daemon, so it
   never keeps the interpreter alive.

Under a debugger or coverage (any trace function set), step 2 is skipped and the thread
simply runs to its end. CPython 3.11 stalls every traced thread while an asynchronous
exception waits to be delivered, and a thread blocked in C could keep it waiting for minutes.

Async bodies need none of this: they are cancelled at their next ``await``.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
from typing import Any

from plait.exceptions import RunTimeoutError


class DeadlineExceeded(Exception):
    """Raised to the waiting caller when the body overran. Never reaches user code."""


def _interrupt(thread: threading.Thread) -> None:
    if sys.gettrace() is not None or threading.gettrace() is not None:
        return  # see the module docstring: never stall a debugger or coverage run
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(RunTimeoutError)
    )


def call_with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """Return ``fn()``, or raise its exception, or raise ``DeadlineExceeded`` after ``seconds``."""
    box: dict[str, Any] = {}
    finished = threading.Event()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            try:
                box["value"] = context.run(fn)
            except BaseException as exc:
                box["error"] = exc
            finished.set()
        except RunTimeoutError:
            pass  # the interruption landed after the body had already finished

    helper = threading.Thread(target=target, name="plait-deadline", daemon=True)
    helper.start()
    if not finished.wait(seconds):
        if helper.is_alive() and not finished.is_set():
            _interrupt(helper)
        raise DeadlineExceeded
    if "error" in box:
        raise box["error"]
    return box["value"]
