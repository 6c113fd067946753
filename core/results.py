"""Persisted results: writing a flow's or task's return value to result storage, and reading
it back.

Result storage is any ``WritableFileSystem`` (``read_path``, ``write_path``, ``exists``):
a block instance, a saved block named ``"slug/name"``, or a URL whose scheme a plugin
registered through ``plait_result_storage`` (``file://`` is built in). The default is
``$PLAIT_HOME/results`` on the local disk. The run store keeps only a ``ResultRef``: which
storage, which path, which serializer.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plait import journal
from plait.context import flow_run_var, task_run_var
from plait.exceptions import InvalidOptionError, MissingContextError, ParameterError, PlaitError
from plait.runs import ArtifactRecord, new_id

if TYPE_CHECKING:  # plait.serializers loads on first use: import plait stays light
    from plait.serializers import Serializer

DEFAULT_SERIALIZER = "cloudpickle"
ARTIFACT_KEY_LIMIT = 255  # an artifact's name is its key in the run store


@dataclass(frozen=True, slots=True)
class ResultRef:
    """Where a persisted result lives. ``storage`` is how another process finds the storage
    again (a URL or a saved block's ``slug/name``); None means only code holding the storage
    object (the task that wrote it) can read it."""

    storage: str | None
    path: str
    serializer: str
    storage_object: Any = field(default=None, compare=False, repr=False)
    serializer_object: Serializer | None = field(default=None, compare=False, repr=False)

    def load(self) -> Any:
        """The value, read from storage and deserialized (by the serializer that wrote it,
        when known here, else by the one its header names)."""
        storage = self.storage_object
        if storage is None:
            if self.storage is None:
                raise PlaitError(
                    f"The result at {self.path!r} was written to an unsaved storage block, so "
                    "only the task that wrote it can read it; save the result_storage block, "
                    "or give result_storage as 'slug/name' or a URL."
                )
            storage = open_storage(self.storage)
        data = storage.read_path(self.path)
        from plait.serializers import SERIALIZERS, loads_any

        custom = self.serializer_object
        if custom is not None and custom.name not in SERIALIZERS:  # a user's own Serializer
            return custom.loads(data)
        return loads_any(data)  # by the header, so changing result_serializer keeps old results

    def exists(self) -> bool:
        storage = self.storage_object or open_storage(self.storage)
        return bool(storage.exists(self.path))

    def delete(self) -> None:
        """Delete the stored result (a rolled-back transaction's), if it is there."""
        storage = self.storage_object or open_storage(self.storage)
        storage.delete_path(self.path)

    def to_json(self) -> dict[str, Any]:
        return {"storage": self.storage, "path": self.path, "serializer": self.serializer}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRef:
        return cls(data["storage"], data["path"], data["serializer"])


class ResultOptions:
    """A flow's or task's ``persist_result``, ``result_storage`` and ``result_serializer``,
    validated when it is defined. Storage is resolved on first use (it may need the store or
    a plugin)."""

    __slots__ = ("_serializer", "_storage", "in_memory", "owner", "persist", "storage")

    def __init__(
        self, persist: Any, storage: Any, serializer: Any, owner: str, in_memory: Any = True
    ) -> None:
        if persist is not None and not isinstance(persist, bool):
            raise InvalidOptionError(
                f"{owner}: persist_result must be True, False or None; got {persist!r}."
            )
        if not isinstance(in_memory, bool):
            raise InvalidOptionError(
                f"{owner}: cache_result_in_memory must be True or False; got {in_memory!r}."
            )
        if persist is False and not in_memory:
            raise InvalidOptionError(
                f"{owner}: cache_result_in_memory=False keeps only the persisted result, but "
                "persist_result=False; drop one of them."
            )
        self.owner = owner
        self.in_memory = in_memory  # False: the state reads the result back when asked
        if persist is None and (storage is not None or serializer is not None or not in_memory):
            persist = True  # as in Prefect: choosing where or how to keep results keeps them
        self.persist: bool | None = persist
        self.storage = _check_storage(storage, owner)
        self._serializer: Serializer | None = None
        if serializer is not None:  # checked now; the default is resolved on first use
            self._serializer = _resolve_serializer(serializer, owner)
        self._storage: tuple[Any, str | None] | None = None

    @property
    def serializer(self) -> Serializer:
        if self._serializer is None:
            self._serializer = _resolve_serializer(DEFAULT_SERIALIZER, self.owner)
        return self._serializer

    def enabled(self, implied: bool = False) -> bool:
        """Whether results are persisted: ``persist_result`` if set (or implied by setting
        ``result_storage`` or ``result_serializer``); else True when caching asks for it
        (``implied``), else the ``results_persist_by_default`` setting."""
        if self.persist is not None:
            return self.persist
        return implied or persist_by_default()

    def write(self, value: Any, path: str, serializer: Serializer | None = None) -> ResultRef:
        """Serialize ``value`` (with ``result_serializer`` unless another is given) and write
        it at ``path``; raises ``SerializationError`` for a value the serializer cannot
        handle. A built-in pickling serializer encrypts a value holding secrets."""
        from plait.serializers import SERIALIZERS, written_by

        serializer = serializer or self.serializer
        storage, spec = self.open()
        data = serializer.dumps(value)
        storage.write_path(path, data)
        if serializer.name in SERIALIZERS:  # a built-in one may have encrypted: say so
            label = written_by(data)
        else:
            label = serializer.name + (
                f"+{serializer.compression}" if serializer.compression else ""
            )
        return ResultRef(spec, path, label, storage, serializer)

    def open(self) -> tuple[Any, str | None]:
        """The storage object, and how to find it again (see ``ResultRef.storage``)."""
        if self._storage is None:
            self._storage = _resolve(self.storage)
        return self._storage


@dataclass(frozen=True)
class ResultRecord:
    """A stored result read by key (``ResultStore.read``): the key, and the value."""

    key: str
    result: Any


class ResultStore:
    """Stored results by key, as Prefect's ``ResultStore``: for a result a task wrote under
    its ``result_storage_key``, ``ResultStore().read("reports/2024-01-31.json").result``.
    ``result_storage`` is the flow's or task's (default: ``$PLAIT_HOME/results``)."""

    def __init__(self, result_storage: Any = None) -> None:
        self._options = ResultOptions(True, result_storage, None, "ResultStore()")

    def _ref(self, key: str) -> ResultRef:
        if not isinstance(key, str) or not key:
            raise ParameterError(
                f"ResultStore: key must be a result's path in the storage, such as "
                f"'reports/2024-01-31.json'; got {key!r}."
            )
        storage, spec = self._options.open()
        return ResultRef(spec, key, "", storage)

    def exists(self, key: str) -> bool:
        """Whether a result is stored under ``key``."""
        return self._ref(key).exists()

    def read(self, key: str) -> ResultRecord:
        """The result stored under ``key``; ``FileNotFoundError`` if there is none."""
        return ResultRecord(key, self._ref(key).load())


def write_artifact(name: str, value: Any, description: str | None = None) -> ResultRef:
    """Keep ``value`` (JSON data: a report, a tool's output files) with the results of the
    flow run in progress, at ``artifacts/<flow run id>/<name>`` in the flow's result storage,
    and record it as the run's artifact ``name`` (``Client.read_artifacts``, ``plait flow-run
    inspect``). ``ResultRef.load()`` reads it back; the file is the JSON after a one-line
    header."""
    if (
        not isinstance(name, str)
        or len(name) > ARTIFACT_KEY_LIMIT
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise ParameterError(
            f"write_artifact({name!r}): give a relative path inside the flow run's artifacts, "
            "such as 'report.json' or 'dbt/run_results.json', without empty, '.' or '..' "
            f"parts and at most {ARTIFACT_KEY_LIMIT} characters long."
        )
    if description is not None and not isinstance(description, str):
        raise ParameterError(
            f"write_artifact({name!r}): description must be text; got {description!r}."
        )
    context = flow_run_var.get()
    if context is None:
        raise MissingContextError(
            f"write_artifact({name!r}) keeps files with a flow run's results, so it needs the "
            "flow run: call it in a flow, or in a task running in the flow's process (not on a "
            "process pool's or a cluster's worker)."
        )
    flow_run_id = context.flow_run.id
    ref = context.flow.results.write(
        value, f"artifacts/{flow_run_id}/{name}", _resolve_serializer("json", name)
    )
    task = task_run_var.get()  # a task of this flow run (not one around a subflow)
    task_run_id = task.task_run.id if task and task.task_run.flow_run_id == flow_run_id else None
    journal.record(
        ArtifactRecord(
            new_id(), name, "file", flow_run_id, task_run_id, ref.to_json(),
            datetime.now(UTC), description,
        )
    )  # fmt: skip
    return ref


def parameter_serializer() -> Serializer:
    """How flow parameters are stored for ``plait flow-run retry``: cloudpickle, which
    encrypts them when they hold secrets (a credentials block, a ``SecretStr``), as for
    results; parameters without secrets are already in the run store in the clear."""
    return _resolve_serializer(DEFAULT_SERIALIZER, "flow parameters")


def _resolve_serializer(value: Any, owner: str) -> Serializer:
    from plait.serializers import resolve_serializer

    return resolve_serializer(value, owner)


def _check_storage(value: Any, owner: str) -> Any:
    if value is None or _is_file_system(value):
        return value
    if isinstance(value, str) and ("://" in value or value.count("/") == 1):
        return value
    raise InvalidOptionError(
        f"{owner}: result_storage must be a WritableFileSystem block, a saved block's "
        f"'slug/name' (e.g. 'local-file-system/results'), or a URL such as "
        f"'file:///data/results' or 's3://bucket/prefix'; got {value!r}."
    )


def _is_file_system(value: Any) -> bool:
    methods = ("read_path", "write_path", "exists")
    return all(callable(getattr(value, name, None)) for name in methods)


def _resolve(storage: Any) -> tuple[Any, str | None]:
    if storage is None:
        spec = default_storage_url()
        return open_storage(spec), spec
    if isinstance(storage, str):
        return open_storage(storage), storage
    saved = getattr(storage, "_saved", None)
    if saved is not None and not saved.is_anonymous:
        return storage, f"{saved.slug}/{saved.name}"
    return storage, None


def default_storage_url() -> str:
    """``file://`` URL of ``$PLAIT_HOME/results``."""
    from plait.settings import home_dir

    return (home_dir() / "results").as_uri()


_opened: dict[tuple[str, str | None, str | None], Any] = {}


def open_storage(spec: str) -> Any:
    """The storage a URL or ``slug/name`` names, through the plugins that provide it: one
    object per spec (and store) per process, since loading a saved block reads the store."""
    key = (spec, os.environ.get("PLAIT_HOME"), os.environ.get("PLAIT_DATABASE_URL"))
    storage = _opened.get(key)
    if storage is None:
        storage = _opened[key] = _open(spec)
    return storage


def _open(spec: str) -> Any:
    from plait.plugins import get_plugins

    plugins = get_plugins()
    scheme, separator, _ = spec.partition("://")
    if not separator:
        loaded = [block for block in plugins.manager.hook.plait_load_block(name=spec) if block]
        if not loaded:
            raise PlaitError(f"No installed plugin can load the saved block {spec!r}.")
        return loaded[0]
    factories = {
        name: factory
        for _, schemes in plugins.call("plait_result_storage")
        for name, factory in schemes.items()
    }
    if scheme not in factories:
        known = ", ".join(f"{name}://" for name in sorted(factories)) or "none"
        raise PlaitError(
            f"No installed plugin stores results at {scheme}:// URLs (known: {known}). "
            f"Install the integration that provides it, e.g. pip install plait-{scheme}."
        )
    return factories[scheme](spec)


@functools.lru_cache(maxsize=8)
def _persist_by_default(env_value: str | None, home: str | None) -> bool:
    from plait.settings import load_settings

    return load_settings().results_persist_by_default


def persist_by_default_setting() -> bool:
    """The ``results_persist_by_default`` setting, read once per configuration."""
    environ = os.environ
    return _persist_by_default(
        environ.get("PLAIT_RESULTS_PERSIST_BY_DEFAULT"), environ.get("PLAIT_HOME")
    )


def persist_by_default() -> bool:
    """The setting as the run in progress sees it: a flow run reads it once when it starts
    (this is asked on every task run, so it must cost next to nothing)."""
    context = flow_run_var.get()
    if context is not None:
        return context.persist_by_default
    return persist_by_default_setting()
