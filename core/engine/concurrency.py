"""Crossing between sync code and event loops without blocking or deadlocking either."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def event_loop_running() -> bool:
    """True when this thread is running an event loop (so it must not block on sync work)."""
    return asyncio._get_running_loop() is not None


def run_in_worker_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a worker thread, in this context, and wait for its result.

    Used when sync flow or task code is called from a thread that runs an event loop, so
    the sync code never runs on the loop's thread (where ``asyncio.run`` would fail).
    """
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="plait-sync")
    return _pool.submit(contextvars.copy_context().run, fn, *args).result()


def run_coroutine_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code and return its result."""
    if event_loop_running():
        return run_in_worker_thread(asyncio.run, coroutine)
    return asyncio.run(coroutine)
