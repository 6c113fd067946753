"""Wrappers that tell Plait how to treat an argument, as Prefect's
``prefect.utilities.annotations``: ``unmapped`` (``plait.unmapped``, for ``.map``),
``allow_failure`` and ``quote`` / ``opaque``."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class _Annotation(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class allow_failure(_Annotation[T]):
    """Run the downstream task even if the futures (or states) inside did not complete:
    ``load(allow_failure(extract_future))`` or ``wait_for=[allow_failure(f)]``. The task
    gets a completed upstream's value, and an unsuccessful one's exception."""

    __slots__ = ()


class quote(_Annotation[T]):
    """Pass the value as it is, without looking inside it for futures and states: for a
    large collection (nothing to walk through) or one whose futures the task resolves
    itself. The task gets the value unwrapped."""

    __slots__ = ()


opaque = quote  # Prefect's newer name for ``quote``

__all__ = ["allow_failure", "opaque", "quote"]
