"""The prebuilt tasks of object-store buckets, written once for every store.

Each task takes an ``ObjectStorageBucket`` as its first argument and calls the bucket's
method of the same job, so it behaves the same, plus a tracked task run with the store's
retry options. An integration makes its own named set from ``ObjectStorageTasks``::

    RETRY_OPTIONS = retry_when(is_transient)
    _tasks = ObjectStorageTasks(S3Bucket, store="S3", module=__name__, options=RETRY_OPTIONS)
    s3_upload = _tasks.upload("s3_upload", large_objects="Multipart from 8 MB.")
    s3_download = _tasks.download("s3_download")

Every call makes a new function, named and documented for its store and bound to the
integration's module, so tasks of different stores never share a name, a docstring, a
retry rule or a cache key (``module:name``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from plait import Task
from plait.blocks.object_storage import ObjectStorageBucket

__all__ = ["ObjectStorageTasks"]

R = TypeVar("R")


class ObjectStorageTasks:
    """Makes one store's prebuilt bucket tasks: ``upload``, ``download``, ``list_objects``,
    ``copy``, ``move`` and ``delete``, each under the name the integration gives it.

    ``bucket_type`` (``S3Bucket``) and ``store`` (``"S3"``) name the store in the tasks'
    docstrings; ``module`` is the integration's module that binds the tasks (pass
    ``__name__``), their identity for caching; ``options`` are the task options of every task,
    usually ``retry_when(is_transient)`` with the store's transient-error rule.
    """

    def __init__(
        self,
        bucket_type: type[ObjectStorageBucket],
        *,
        store: str,
        module: str,
        options: dict[str, Any],
    ) -> None:
        self.bucket_type = bucket_type
        self.store = store
        self.module = module
        self.options = options

    def _task(self, fn: Callable[..., R], name: str, doc: str) -> Task[..., R]:
        """``fn`` as the task ``name``, as if defined under that name in ``module``."""
        fn.__name__ = fn.__qualname__ = name
        fn.__module__ = self.module
        fn.__doc__ = doc
        return Task(fn, name=name, **self.options)

    def upload(self, name: str, large_objects: str) -> Task[..., str]:
        """The task that uploads bytes or a local file (``ObjectStorageBucket.upload``);
        ``large_objects`` tells how the store sends large ones (``"Multipart from 8 MB."``)."""

        def upload(
            bucket: ObjectStorageBucket,
            to_path: str,
            data: bytes | None = None,
            *,
            from_path: str | Path | None = None,
        ) -> str:
            return bucket.upload(to_path, data, from_path=from_path)

        return self._task(
            upload,
            name,
            "Upload ``data`` (bytes), or the local file ``from_path``, to ``to_path`` in the "
            f"bucket; returns the object's key. {large_objects}",
        )

    def download(self, name: str) -> Task[..., bytes | Path]:
        """The task that reads an object or downloads it to a local file
        (``ObjectStorageBucket.download``)."""

        def download(
            bucket: ObjectStorageBucket, from_path: str, to_path: str | Path | None = None
        ) -> bytes | Path:
            return bucket.download(from_path, to_path)

        return self._task(
            download,
            name,
            "The content of the object at ``from_path``, or, with ``to_path``, the object "
            "downloaded to that local file (whose path is returned).",
        )

    def list_objects(self, name: str) -> Task[..., list[dict[str, Any]]]:
        """The task that lists objects and folders (``ObjectStorageBucket.list_objects``)."""

        def list_objects(
            bucket: ObjectStorageBucket,
            folder: str = "",
            delimiter: str = "",
            page_size: int | None = None,
        ) -> list[dict[str, Any]]:
            return bucket.list_objects(folder, delimiter=delimiter, page_size=page_size)

        return self._task(
            list_objects,
            name,
            "The objects under ``folder`` (all pages), and with a ``delimiter`` its "
            f"subfolders: see ``{self.bucket_type.__name__}.list_objects``.",
        )

    def copy(self, name: str) -> Task[..., str]:
        """The task that copies an object inside the store (``ObjectStorageBucket.copy_object``)."""
        return self._relocation(
            name,
            "copy_object",
            f"Copy an object inside {self.store} (to another bucket with ``to_bucket``); "
            "returns the new key.",
        )

    def move(self, name: str) -> Task[..., str]:
        """The task that moves an object (``ObjectStorageBucket.move_object``)."""
        return self._relocation(
            name,
            "move_object",
            "Move an object (copy, then delete the source); returns the new key.",
        )

    def _relocation(self, name: str, method: str, summary: str) -> Task[..., str]:
        """The task ``name`` calling the bucket's ``method``: ``copy_object`` or
        ``move_object``, which take the same arguments."""

        def relocate(
            bucket: ObjectStorageBucket,
            from_path: str,
            to_path: str,
            to_bucket: ObjectStorageBucket | str | None = None,
        ) -> str:
            return getattr(bucket, method)(from_path, to_path, to_bucket)

        return self._task(
            relocate, name, f"{summary} See ``{self.bucket_type.__name__}.{method}``."
        )

    def delete(self, name: str) -> Task[..., list[str]]:
        """The task that deletes objects or a folder (``ObjectStorageBucket.delete_objects``)."""

        def delete(bucket: ObjectStorageBucket, paths_or_folder: str | list[str]) -> list[str]:
            return bucket.delete_objects(paths_or_folder)

        return self._task(
            delete,
            name,
            "Delete a list of objects, or every object under a folder; returns the deleted "
            f"paths. See ``{self.bucket_type.__name__}.delete_objects``.",
        )
