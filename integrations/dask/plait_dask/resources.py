"""Dask worker resources for task runs: ``with dask_resources(GPU=1): train.submit(...)``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from plait.exceptions import InvalidOptionError

_requested: ContextVar[dict[str, float] | None] = ContextVar("plait_dask_resources", default=None)


@contextmanager
def dask_resources(**resources: float) -> Iterator[None]:
    """Task runs submitted inside the block need these Dask worker resources (``GPU=1``,
    ``memory=8e9``): Dask runs each only on a worker that has them free. Blocks nest; an
    inner amount replaces an outer one. Workers declare what they have (``dask worker
    --resources "GPU=2"``, or ``LocalCluster(resources={"GPU": 2})``)."""
    check_resources("dask_resources", resources)
    token = _requested.set({**(_requested.get() or {}), **resources})
    try:
        yield
    finally:
        _requested.reset(token)


def check_resources(owner: str, resources: dict[str, float]) -> dict[str, float]:
    """``resources``, once every amount is a positive number; else a clear error."""
    for name, amount in resources.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise InvalidOptionError(
                f"{owner}: {name} must be a positive number (such as {name}=1); got {amount!r}."
            )
    return dict(resources)


def requested_resources() -> dict[str, float]:
    """The resources the enclosing ``dask_resources`` blocks ask for."""
    return dict(_requested.get() or {})
