"""Object-store buckets (S3, Google Cloud Storage, later Azure Blob Storage) as storage blocks.

``ObjectStorageBucket`` is the provider-neutral half of every bucket block. It implements
``WritableFileSystem`` (``read_path``, ``write_path``, ``exists``, ``list``), so any bucket
works as result storage, and the operations flows need on top: uploads and downloads of
files, file objects and whole folders, listings with a delimiter and a page size, copies,
moves and deletes. It owns everything that is the same on every store:

- paths: every path is relative to ``bucket_folder`` and uses ``/``; empty and ``.``
  segments are dropped (``a//./b`` is ``a/b``) and ``..`` is refused with a ``BlockError``,
  so no path reaches outside ``bucket_folder``;
- folder transfers: files go up and down in parallel (``_max_concurrency`` at a time), the
  first failure stops the rest, downloads land in a temporary file renamed into place, and a
  key that would land outside the target folder is refused;
- listing: provider-neutral dicts (see ``list_objects``), objects first, then folders;
- argument checks and the error messages that name the operation, bucket and key.

An integration subclasses it, provides the bucket's name (a ``bucket_name`` field, or a
field named by ``_bucket_field`` with a ``bucket_name`` property over it; either validated
with ``_bucket_name_alone``), declares the fields that reach the store (credentials), and
implements the primitives below; its prebuilt tasks come from ``ObjectStorageTasks``
(``plait.blocks.object_storage_tasks``). Every primitive takes full keys (``bucket_folder``
already applied), does one thing on the store, and raises the provider's own exceptions: the
shared code turns them into the integration's error with ``_fail``, naming what was being
done. A primitive may also raise a ``PlaitError`` it built itself (for example a missing
bucket told apart from a missing key); those pass through unchanged. Primitives are called
from several threads at once during folder transfers.

=====================================================  ======================================
primitive                                              what it does
=====================================================  ======================================
``_put_object(key, file, size)``                       write an object from a file object
``_get_object(key, file)``                             stream an object into a file object
``_read_object(key) -> bytes``                         an object's content (optional)
``_object_exists(key) -> bool``                        whether an object exists
``_iter_objects(prefix, delimiter, page_size)``        objects (and folders) under a prefix
``_copy_object(key, to_bucket_name, to_key)``          a copy made inside the store
``_delete_keys(keys)``                                 delete up to ``_delete_batch_size``
``_fail(exc, action, **where) -> Exception``           a provider error as the plugin's error
=====================================================  ======================================

Class variables tune the shared code to the store: ``_max_page_size`` (the most keys one
listing request may ask for), ``_delete_batch_size`` (the most keys one ``_delete_keys``
call gets) and ``_max_concurrency`` (parallel objects per folder transfer).

``list`` is defined with ``@instance_list``: on an instance it lists the bucket's files,
while on the class (``S3Bucket.list()``) it still lists the saved blocks of the type.
"""

from __future__ import annotations

import builtins
import io
import os
import tempfile
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from plait.blocks.block import instance_list
from plait.blocks.filesystems import WritableFileSystem
from plait.exceptions import BlockError, PlaitError

__all__ = ["ObjectStorageBucket"]


class ObjectStorageBucket(WritableFileSystem):
    """A bucket in an object store, or a folder in one (``bucket_folder``), for reading and
    writing files: the shared base of ``S3Bucket`` and ``GcsBucket``.

    Paths are relative to ``bucket_folder`` and use ``/``. Empty and ``.`` segments are
    dropped (``a//./b`` is ``a/b``) and ``..`` is refused, so no path reaches outside
    ``bucket_folder``. Subclasses provide ``bucket_name`` and implement the primitives
    (see the module's documentation).
    """

    if TYPE_CHECKING:
        # Every subclass provides the bucket's name, validated its own way: a field
        # (S3Bucket.bucket_name) or a property over one (GcsBucket.bucket).
        bucket_name: str

    bucket_folder: str = Field(
        default="",
        description="A folder (key prefix) in the bucket under which every path lives.",
    )

    _max_page_size: ClassVar[int] = 1000
    """The most keys one listing request may ask for (``list_objects``'s ``page_size``)."""
    _delete_batch_size: ClassVar[int] = 1000
    """The most keys passed to one ``_delete_keys`` call."""
    _max_concurrency: ClassVar[int] = 10
    """Objects transferred in parallel by ``upload_from_folder``/``download_folder_to_path``."""
    _bucket_field: ClassVar[str] = "bucket_name"
    """The field that holds the bucket's name (``from_url`` fills it)."""

    @classmethod
    def from_url(cls, url: str, credentials: Any) -> Self:
        """``scheme://bucket/folder`` (a result-storage URL such as ``s3://raw/results``) as a
        bucket block with ``credentials``."""
        parts = urlsplit(url)
        return cls(
            **{cls._bucket_field: parts.netloc},
            bucket_folder=parts.path.strip("/"),
            credentials=credentials,
        )

    @classmethod
    def _bucket_name_alone(cls, value: str) -> str:
        """``value`` stripped, refused unless it is a bucket's name alone (no URL, no
        folder): what each store's validator of its ``_bucket_field`` returns."""
        value = value.strip()
        if not value:
            raise ValueError("must be a bucket name, e.g. 'raw'")
        if "/" in value:
            raise ValueError(
                "must be a bucket name alone, e.g. 'raw'; put a folder in bucket_folder "
                f"({cls._store_type().__name__}({cls._bucket_field}='raw', "
                "bucket_folder='events'))"
            )
        return value

    @field_validator("bucket_folder")
    @classmethod
    def _check_bucket_folder(cls, value: str) -> str:
        parts = _segments(value)
        if ".." in parts:
            raise ValueError("must not contain '..' segments; give the folder's plain key prefix")
        return "/".join(parts)

    # -- the primitives each store implements ---------------------------------------------

    @abstractmethod
    def _put_object(self, key: str, file: IO[bytes], size: int | None) -> None:
        """Write the object ``key`` from the binary file object ``file``, read from its
        current position to its end, replacing any object there. ``size`` is the number of
        bytes that will be read when known (``write_path``, ``upload_from_path``), ``None``
        otherwise (``upload_from_file_object``); use it to choose between a single request
        and a multipart / resumable upload. The write must be atomic: a reader sees the old
        object or the new one, never a part."""

    @abstractmethod
    def _get_object(self, key: str, file: IO[bytes]) -> None:
        """Write the content of the object ``key`` into the binary, writable file object
        ``file`` (at its current position); ranged, parallel reads are welcome. Raise the
        provider's not-found error for a missing object. The shared code handles temporary
        files and renames."""

    def _read_object(self, key: str) -> bytes:
        """The content of the object ``key`` (``read_path``). Optional: by default
        ``_get_object`` into memory; override it when a single request gives a better
        answer or error for small objects."""
        buffer = io.BytesIO()
        self._get_object(key, buffer)
        return buffer.getvalue()

    @abstractmethod
    def _object_exists(self, key: str) -> bool:
        """Whether the object ``key`` exists: ``False`` only when the object is missing. A
        missing bucket, denied access or a network failure raises (a missing bucket is best
        raised as the plugin's own error, telling it apart from a missing key)."""

    @abstractmethod
    def _iter_objects(
        self, prefix: str, delimiter: str, page_size: int | None
    ) -> Iterator[dict[str, Any]]:
        """Every object whose key starts with ``prefix``, in key order, following every
        page of the store's listing; lazily (a generator).

        Yield one dict per object with at least ``Key`` (the full key) and ``Size`` (bytes),
        and, where the store has them, ``LastModified`` (an aware ``datetime``) and ``ETag``;
        other provider fields may follow. Folder markers (keys ending in ``/``) are yielded
        like any object; the shared code skips them where it should.

        With a ``delimiter`` (``""`` means none), list only the objects directly under
        ``prefix``, and yield one ``{"Prefix": ...}`` dict per "folder" below it (the full
        key prefix, ending with the delimiter), in any position. ``page_size`` (``None``:
        the store's default; otherwise 1 to ``_max_page_size``, already checked) is how many
        keys each request asks for.
        """

    @abstractmethod
    def _copy_object(self, key: str, to_bucket_name: str, to_key: str) -> None:
        """Copy the object ``key`` of this bucket to ``to_key`` in the bucket named
        ``to_bucket_name`` (possibly this one), inside the store (no download), replacing
        any object there, with this block's credentials."""

    @abstractmethod
    def _delete_keys(self, keys: builtins.list[str]) -> None:
        """Delete the objects ``keys`` (1 to ``_delete_batch_size`` of them, ideally in one
        request). A missing key is not an error. When the store reports that some keys
        could not be deleted, raise (the plugin's own error may name the failing key)."""

    @abstractmethod
    def _fail(self, exc: Exception, action: str, **where: Any) -> Exception:
        """``exc``, raised by a primitive, as the exception to raise to the user: the
        plugin's error (a ``PlaitError``) whose message starts with ``action`` (``"Reading"``,
        ``"Copying"``...), then names this bucket and each of ``where`` (``key``,
        ``prefix``, ``to_bucket``, ``to_key``: ``None`` values left out), and the
        provider's error code and reason, never a credential. Returned, not raised."""

    # -- paths and keys -------------------------------------------------------------------

    def _relative(self, path: str | os.PathLike[str], what: str = "Path") -> str:
        """``path`` normalized: ``/``-separated, without empty or ``.`` segments; ``..`` is
        refused, so nothing escapes ``bucket_folder``."""
        if isinstance(path, os.PathLike):
            path = Path(path).as_posix()
        if not isinstance(path, str):
            raise BlockError(f"{what} must be a string, got {type(path).__name__}.")
        parts = _segments(path)
        if ".." in parts:
            where = f"bucket_folder {self.bucket_folder!r}" if self.bucket_folder else "the bucket"
            raise BlockError(
                f"{what} {path!r} contains '..', which could leave {where} of this "
                f"{type(self).__name__}; give a path without '..' segments."
            )
        return "/".join(parts)

    def _key(
        self, path: str | os.PathLike[str], what: str = "Path", folder: str | None = None
    ) -> str:
        """The full key of the file at ``path``, under ``folder`` (default:
        ``bucket_folder``)."""
        relative = self._relative(path, what)
        if not relative:
            raise BlockError(f"{what} {path!r} names no file; give a file name, e.g. 'data.json'.")
        base = self.bucket_folder if folder is None else folder
        return f"{base}/{relative}" if base else relative

    def _prefix(self, folder: str | os.PathLike[str], what: str = "Folder") -> str:
        """The key prefix of everything under ``folder`` (ends with ``/`` unless empty)."""
        relative = self._relative(folder, what)
        joined = "/".join(part for part in (self.bucket_folder, relative) if part)
        return f"{joined}/" if joined else ""

    def _path_of(self, key: str) -> str:
        """A key as a path relative to ``bucket_folder``."""
        base = f"{self.bucket_folder}/" if self.bucket_folder else ""
        return key[len(base) :] if key.startswith(base) else key

    @contextmanager
    def _calling(self, action: str, **where: Any) -> Iterator[None]:
        """Run primitives, turning their provider errors into ``_fail(exc, action,
        **where)``; Plait's own errors pass through."""
        try:
            yield
        except PlaitError:
            raise
        except Exception as exc:
            raise self._fail(exc, action, **where) from None

    def _scan(
        self, prefix: str, action: str, delimiter: str = "", page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """``_iter_objects``, with its errors translated."""
        with self._calling(action, prefix=prefix):
            yield from self._iter_objects(prefix, delimiter, page_size)

    def _files_under(self, prefix: str, action: str) -> Iterator[str]:
        """The keys of the files under ``prefix``, recursively (folder markers left out)."""
        for item in self._scan(prefix, action):
            key = item.get("Key")
            if key is not None and not key.endswith("/"):
                yield key

    # -- WritableFileSystem ---------------------------------------------------------------

    def read_path(self, path: str) -> bytes:
        """The content of the object at ``path``."""
        key = self._key(path)
        with self._calling("Reading", key=key):
            return self._read_object(key)

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` at ``path``, replacing any object there; returns the object's
        key. Object writes are atomic: a reader sees the old object or the new one."""
        if not isinstance(content, bytes | bytearray | memoryview):
            raise BlockError(
                f"{type(self).__name__}.write_path needs bytes, got {type(content).__name__}; "
                "encode text first, e.g. text.encode()."
            )
        key = self._key(path)
        data = bytes(content)
        with self._calling("Writing", key=key):
            self._put_object(key, io.BytesIO(data), len(data))
        return key

    def delete_path(self, path: str) -> None:
        """Delete the object at ``path``, if there is one."""
        self.delete_objects([path])

    def exists(self, path: str) -> bool:
        """Whether an object exists at ``path``. A missing bucket is an error, not False."""
        key = self._key(path)
        with self._calling("Checking", key=key):
            return self._object_exists(key)

    @instance_list
    def list(self, path: str = "") -> builtins.list[str]:
        """The paths (relative to ``bucket_folder``) of every object under the folder
        ``path``, recursively, sorted; ``[path]`` when ``path`` is an object itself. Folder
        markers (empty keys ending in ``/``) are left out. On the class (``S3Bucket.list()``)
        ``list`` lists the saved blocks instead."""
        paths = [self._path_of(key) for key in self._files_under(self._prefix(path), "Listing")]
        if not paths and self._relative(path) and self.exists(path):
            return [self._relative(path)]
        return sorted(paths)

    # -- listing --------------------------------------------------------------------------

    def list_objects(
        self, folder: str = "", delimiter: str = "", page_size: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every object under ``folder`` (all pages), in key order, as dicts with:

        - ``Key``: the full key in the bucket (``bucket_folder`` included);
        - ``Path``: the path relative to ``bucket_folder``;
        - ``Size``: the size in bytes;
        - where the store has them, ``LastModified`` (an aware ``datetime``) and ``ETag``,
          then the store's own fields (S3: ``StorageClass``...).

        With a ``delimiter`` (usually ``"/"``), only the objects directly in ``folder`` are
        listed, and after them comes one ``{"Prefix": ..., "Path": ...}`` dict per
        subfolder ("common prefix"; ``Prefix`` is the full key prefix ending with the
        delimiter, ``Path`` relative to ``bucket_folder``). Tell the two apart by their
        ``Key`` or ``Prefix`` entry. ``page_size`` (1 to the store's maximum, 1,000 for S3)
        sets how many keys each request asks for.
        """
        if page_size is not None and (
            not isinstance(page_size, int)
            or isinstance(page_size, bool)
            or not 1 <= page_size <= self._max_page_size
        ):
            raise BlockError(
                f"page_size must be a whole number from 1 to {self._max_page_size}, or None; "
                f"got {page_size!r}."
            )
        if not isinstance(delimiter, str):
            raise BlockError(f"delimiter must be a string such as '/', got {delimiter!r}.")
        objects: builtins.list[dict[str, Any]] = []
        folders: builtins.list[dict[str, Any]] = []
        for item in self._scan(self._prefix(folder), "Listing", delimiter, page_size):
            if "Key" in item:
                objects.append({**item, "Path": self._path_of(item["Key"])})
            else:
                folders.append({"Prefix": item["Prefix"], "Path": self._path_of(item["Prefix"])})
        return objects + folders

    # -- uploads --------------------------------------------------------------------------

    def upload(
        self,
        to_path: str,
        data: bytes | None = None,
        *,
        from_path: str | os.PathLike[str] | None = None,
    ) -> str:
        """Upload ``data`` (bytes), or the local file ``from_path``, to ``to_path``; returns
        the object's key. (What the prebuilt upload tasks of every store call.)"""
        if (data is None) == (from_path is None):
            raise ValueError("upload: give either data (bytes) or from_path (a local file).")
        if from_path is not None:
            return self.upload_from_path(from_path, to_path)
        return self.write_path(to_path, data)  # type: ignore[arg-type]

    def upload_from_path(
        self, from_path: str | os.PathLike[str], to_path: str | None = None
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: the file's name);
        returns the object's key."""
        source = Path(from_path).expanduser()
        if not source.is_file():
            raise BlockError(f"Cannot upload {str(source)!r}: it is not a file.")
        key = self._key(to_path if to_path is not None else source.name, "to_path")
        self._upload_file(source, key)
        return key

    def upload_from_file_object(self, file: IO[bytes], to_path: str) -> str:
        """Upload the content of a binary file object (from its current position) to
        ``to_path``; returns the object's key."""
        key = self._key(to_path, "to_path")
        with self._calling("Uploading a file object", key=key):
            self._put_object(key, file, None)
        return key

    def upload_from_folder(
        self, from_folder: str | os.PathLike[str], to_folder: str | None = None
    ) -> str:
        """Upload every file under the local folder ``from_folder``, subfolders included, to
        ``to_folder`` (default: ``bucket_folder`` itself), keeping their relative paths;
        returns the key prefix they went under. Files are uploaded in parallel; the first
        failure stops the rest and is raised."""
        source = Path(from_folder).expanduser()
        if not source.is_dir():
            raise BlockError(f"Cannot upload {str(source)!r}: it is not a folder.")
        prefix = self._prefix(to_folder or "", "to_folder")
        files = sorted(p for p in source.rglob("*") if p.is_file())
        jobs = [(file, prefix + file.relative_to(source).as_posix()) for file in files]
        self._run_all(self._upload_file, jobs)
        return prefix

    def _upload_file(self, source: Path, key: str) -> None:
        with self._calling(f"Uploading {str(source)!r}", key=key), source.open("rb") as file:
            self._put_object(key, file, os.fstat(file.fileno()).st_size)

    # -- downloads ------------------------------------------------------------------------

    def download(
        self, from_path: str, to_path: str | os.PathLike[str] | None = None
    ) -> bytes | Path:
        """The content of the object at ``from_path``, or, with ``to_path``, the object
        downloaded to that local file (whose path is returned)."""
        if to_path is None:
            return self.read_path(from_path)
        return self.download_object_to_path(from_path, to_path)

    def download_object_to_path(self, from_path: str, to_path: str | os.PathLike[str]) -> Path:
        """Download the object at ``from_path`` to the local file ``to_path`` (parent
        folders are created; an existing file is replaced only once the download is
        complete); returns the local path."""
        key = self._key(from_path, "from_path")
        target = Path(to_path).expanduser()
        self._download(key, target)
        return target

    def download_object_to_file_object(self, from_path: str, file: IO[bytes]) -> IO[bytes]:
        """Download the object at ``from_path`` into a binary, writable file object;
        returns it."""
        key = self._key(from_path, "from_path")
        with self._calling("Downloading", key=key):
            self._get_object(key, file)
        return file

    def download_folder_to_path(self, from_folder: str, to_folder: str | os.PathLike[str]) -> Path:
        """Download every object under ``from_folder`` (recursively) into the local folder
        ``to_folder``, keeping their paths relative to ``from_folder``; returns the local
        folder. Files are downloaded in parallel; the first failure stops the rest and is
        raised. A key that would land outside ``to_folder`` is refused before anything is
        downloaded."""
        prefix = self._prefix(from_folder, "from_folder")
        target = Path(to_folder).expanduser().resolve()
        jobs: builtins.list[tuple[str, Path]] = []
        for key in self._files_under(prefix, "Listing"):
            local = (target / key[len(prefix) :]).resolve()
            if not local.is_relative_to(target):
                raise BlockError(
                    f"Object {key!r} in bucket {self.bucket_name!r} would be downloaded "
                    f"outside {str(target)!r}; not downloading the folder."
                )
            jobs.append((key, local))
        target.mkdir(parents=True, exist_ok=True)
        self._run_all(self._download, jobs)
        return target

    def _download(self, key: str, target: Path) -> None:
        """Download into a temporary file beside ``target``, renamed into place when done."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
        )
        try:
            with self._calling(f"Downloading to {str(target)!r}", key=key):
                with os.fdopen(fd, "wb") as file:
                    self._get_object(key, file)
                os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    # -- copies, moves and deletes --------------------------------------------------------

    def _destination(self, to_path: str, to_bucket: Self | str | None) -> tuple[str, str]:
        """The bucket name and key ``to_path`` means in ``to_bucket``."""
        if to_bucket is None:
            return self.bucket_name, self._key(to_path, "to_path")
        store = self._store_type()
        if isinstance(to_bucket, store):
            return to_bucket.bucket_name, to_bucket._key(to_path, "to_path")
        if isinstance(to_bucket, str) and to_bucket.strip() and "/" not in to_bucket:
            return to_bucket.strip(), self._key(to_path, "to_path", folder="")
        raise BlockError(
            f"to_bucket must be {_with_article(store.__name__)}, a bucket name (e.g. "
            f"'archive') or None; "
            f"got {to_bucket!r}."
        )

    @classmethod
    def _store_type(cls) -> type[ObjectStorageBucket]:
        """The integration's bucket class (the subclass right below ``ObjectStorageBucket``):
        the buckets a copy can reach inside the store."""
        for klass in cls.__mro__:
            if ObjectStorageBucket in klass.__bases__:
                return klass
        return cls

    def copy_object(self, from_path: str, to_path: str, to_bucket: Self | str | None = None) -> str:
        """Copy the object at ``from_path`` to ``to_path``, in this bucket or in
        ``to_bucket``; returns the new key. ``to_path`` is relative to the destination's
        ``bucket_folder`` when ``to_bucket`` is a bucket block, and the full key when it is
        a bucket name. The copy happens inside the store, with this block's credentials,
        which must be able to read the source and write the destination."""
        source_key = self._key(from_path, "from_path")
        bucket, key = self._destination(to_path, to_bucket)
        with self._calling("Copying", key=source_key, to_bucket=bucket, to_key=key):
            self._copy_object(source_key, bucket, key)
        return key

    def move_object(self, from_path: str, to_path: str, to_bucket: Self | str | None = None) -> str:
        """Move the object at ``from_path`` to ``to_path`` (see ``copy_object``): a copy,
        then a delete of the source; returns the new key."""
        key = self.copy_object(from_path, to_path, to_bucket)
        source_key = self._key(from_path, "from_path")
        with self._calling("Deleting the source of a move (the copy was made)", key=source_key):
            self._delete_keys([source_key])
        return key

    def delete_objects(self, paths_or_folder: str | Iterable[str]) -> builtins.list[str]:
        """Delete objects; returns the deleted paths (relative to ``bucket_folder``).

        - A list of paths deletes those objects (missing ones are not an error).
        - A string is a folder: every object under it, recursively, is deleted, and so is
          an object at exactly that path. ``""`` (everything under ``bucket_folder``) is
          refused; pass ``bucket.list()`` to mean it.

        Keys go to the store in batches (S3: 1,000 per ``DeleteObjects`` request). A key the
        store could not delete raises an error naming it.
        """
        if isinstance(paths_or_folder, str | os.PathLike):
            relative = self._relative(paths_or_folder, "Folder")
            if not relative:
                raise BlockError(
                    "delete_objects('') would delete everything under the bucket folder; to "
                    "mean that, pass the paths: bucket.delete_objects(bucket.list())."
                )
            keys = [
                item["Key"]
                for item in self._scan(self._prefix(relative), "Listing for a delete")
                if "Key" in item
            ]
            if self.exists(relative):
                keys.insert(0, self._key(relative))
        else:
            keys = [self._key(path) for path in paths_or_folder]
        deleted: builtins.list[str] = []
        for start in range(0, len(keys), self._delete_batch_size):
            batch = keys[start : start + self._delete_batch_size]
            where = batch[0] if len(batch) == 1 else f"{batch[0]} and {len(batch) - 1} more"
            with self._calling("Deleting", key=where):
                self._delete_keys(batch)
            deleted.extend(self._path_of(key) for key in batch)
        return deleted

    # -- parallel transfers ---------------------------------------------------------------

    def _run_all(self, function: Callable[..., None], jobs: builtins.list[tuple[Any, ...]]) -> None:
        """``function(*job)`` for every job, ``_max_concurrency`` at a time; the first error
        stops the jobs not yet started (those running finish) and is raised."""
        if not jobs:
            return
        failed = threading.Event()

        def run(*job: Any) -> None:
            if failed.is_set():  # a job that was already queued when another one failed
                return
            try:
                function(*job)
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=min(self._max_concurrency, len(jobs))) as pool:
            futures: builtins.list[Future[None]] = [pool.submit(run, *job) for job in jobs]
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]


def _segments(path: str) -> builtins.list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _with_article(name: str) -> str:
    """``a GcsBucket``, ``an S3Bucket``: acronyms by their first letter's sound."""
    acronym = len(name) > 1 and not name[1].islower()
    vowel = name[:1] in ("AEFHILMNORSX" if acronym else "AEIOU")
    return f"{'an' if vowel else 'a'} {name}"
