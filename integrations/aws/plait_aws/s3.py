"""An S3 bucket (or a folder in one) as a Plait storage block.

``S3Bucket`` implements ``WritableFileSystem`` (``read_path``, ``write_path``, ``exists``,
``list``), so it works as result storage, plus the S3 operations flows need: uploads and
downloads of files, file objects and whole folders (multipart above 8 MB), paginated listings,
copies, moves and batched deletes. Every path is relative to ``bucket_folder``; every AWS
failure is an ``AwsError`` naming the operation, the bucket, the key and AWS's error code.
"""

from __future__ import annotations

import builtins
import functools
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any

from pydantic import Field, field_validator

from plait.blocks import WritableFileSystem
from plait.blocks.block import instance_list
from plait.exceptions import BlockError
from plait_aws.credentials import AwsCredentials
from plait_aws.errors import AwsError, aws_error

MB = 1024 * 1024
MULTIPART_THRESHOLD = 8 * MB
"""Objects at least this large are uploaded, downloaded and copied in parts, in parallel."""
MULTIPART_CHUNKSIZE = 8 * MB
MAX_CONCURRENCY = 10
"""Parallel part transfers per object, and parallel objects per folder transfer."""
MAX_KEYS = 1000
"""S3 answers at most 1,000 keys per ListObjectsV2 request."""
DELETE_BATCH = 1000
"""S3's DeleteObjects takes at most 1,000 keys per request."""


@functools.lru_cache(maxsize=1)
def transfer_config() -> Any:
    """The ``boto3.s3.transfer.TransferConfig`` of every managed transfer: multipart from
    8 MB, in 8 MB parts, 10 at a time."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=MAX_CONCURRENCY,
        use_threads=True,
    )


class S3Bucket(WritableFileSystem):
    """An S3 bucket, or a folder in one (``bucket_folder``), for reading and writing files:
    result storage, uploads and downloads of files and folders, listings, copies, moves and
    deletes. Works with any S3-compatible store through the credentials' ``endpoint_url``.

    Paths are relative to ``bucket_folder`` and use ``/``. Empty and ``.`` segments are
    dropped (``a//./b`` is ``a/b``) and ``..`` is refused, so no path reaches outside
    ``bucket_folder``.
    """

    _documentation_url = "https://plait.dev/docs/integrations/aws#s3bucket"
    _code_example = """
        from plait_aws import AwsCredentials, S3Bucket

        bucket = S3Bucket(
            bucket_name="raw",
            bucket_folder="events",
            credentials=AwsCredentials.load("prod"),
        )
        bucket.save("raw-events")

        bucket = S3Bucket.load("raw-events")
        bucket.write_path("2026/11/24.json", b"[]")
        bucket.upload_from_folder("exports/", to_folder="2026/11/24/")
        for path in bucket.list("2026/11/"):
            print(path)
    """

    bucket_name: str = Field(description="The bucket's name, e.g. 'raw' (not an s3:// URL).")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach AWS; by default boto3's own chain (environment, ~/.aws, "
        "instance role).",
    )
    bucket_folder: str = Field(
        default="",
        description="A folder (key prefix) in the bucket under which every path lives.",
    )

    @field_validator("bucket_name")
    @classmethod
    def _check_bucket_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be a bucket name, e.g. 'raw'")
        if value.startswith("s3://") or "/" in value:
            raise ValueError(
                "must be a bucket name alone, e.g. 'raw'; put a folder in bucket_folder "
                "(S3Bucket(bucket_name='raw', bucket_folder='events'))"
            )
        return value

    @field_validator("bucket_folder")
    @classmethod
    def _check_bucket_folder(cls, value: str) -> str:
        parts = _segments(value)
        if ".." in parts:
            raise ValueError("must not contain '..' segments; give the folder's plain key prefix")
        return "/".join(parts)

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
                f"{what} {path!r} contains '..', which could leave {where} of this S3Bucket; "
                "give a path without '..' segments."
            )
        return "/".join(parts)

    def _key(self, path: str | os.PathLike[str], what: str = "Path") -> str:
        """The S3 key of the file at ``path``."""
        relative = self._relative(path, what)
        if not relative:
            raise BlockError(f"{what} {path!r} names no file; give a file name, e.g. 'data.json'.")
        return f"{self.bucket_folder}/{relative}" if self.bucket_folder else relative

    def _prefix(self, folder: str | os.PathLike[str], what: str = "Folder") -> str:
        """The key prefix of everything under ``folder`` (ends with ``/`` unless empty)."""
        relative = self._relative(folder, what)
        joined = "/".join(part for part in (self.bucket_folder, relative) if part)
        return f"{joined}/" if joined else ""

    def _path_of(self, key: str) -> str:
        """A key as a path relative to ``bucket_folder``."""
        base = f"{self.bucket_folder}/" if self.bucket_folder else ""
        return key[len(base) :] if key.startswith(base) else key

    def _client(self) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            return self.credentials.get_client("s3")
        except AwsError:
            raise
        except BotoCoreError as exc:
            raise aws_error(exc, "Creating an S3 client", bucket=self.bucket_name) from None

    def _fail(self, exc: Exception, action: str, **where: Any) -> AwsError:
        return aws_error(exc, action, bucket=self.bucket_name, **where)

    # -- WritableFileSystem ---------------------------------------------------------------

    def read_path(self, path: str) -> bytes:
        """The content of the object at ``path``."""
        key = self._key(path)
        try:
            response = self._client().get_object(Bucket=self.bucket_name, Key=key)
            return response["Body"].read()
        except Exception as exc:
            raise self._fail(exc, "Reading", key=key) from None

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` at ``path`` (multipart from 8 MB), replacing any object there;
        returns the object's key. S3 writes are atomic: a reader sees the old object or
        the new one."""
        if not isinstance(content, bytes | bytearray | memoryview):
            raise BlockError(
                f"S3Bucket.write_path needs bytes, got {type(content).__name__}; encode text "
                "first, e.g. text.encode()."
            )
        key = self._key(path)
        try:
            if len(content) < MULTIPART_THRESHOLD:
                self._client().put_object(Bucket=self.bucket_name, Key=key, Body=bytes(content))
            else:
                import io

                self._client().upload_fileobj(
                    io.BytesIO(content), self.bucket_name, key, Config=transfer_config()
                )
        except Exception as exc:
            raise self._fail(exc, "Writing", key=key) from None
        return key

    def exists(self, path: str) -> bool:
        """Whether an object exists at ``path``. A missing bucket is an error, not False.
        Without ``s3:ListBucket`` permission, S3 answers 403 for a missing object, which
        raises ``AwsError`` (code ``403``)."""
        key = self._key(path)
        client = self._client()
        try:
            client.head_object(Bucket=self.bucket_name, Key=key)
            return True
        except Exception as exc:
            if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise self._fail(exc, "Checking", key=key) from None
        try:  # a HEAD cannot tell a missing key from a missing bucket
            client.head_bucket(Bucket=self.bucket_name)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise AwsError(
                    f"Checking (bucket {self.bucket_name!r}, key {key!r}) failed with AWS error "
                    "NoSuchBucket: the bucket does not exist",
                    "NoSuchBucket",
                    404,
                ) from None
        return False

    @instance_list
    def list(self, path: str = "") -> builtins.list[str]:
        """The paths (relative to ``bucket_folder``) of every object under the folder
        ``path``, recursively, sorted; ``[path]`` when ``path`` is an object itself. Folder
        markers (empty keys ending in ``/``) are left out. On the class, ``S3Bucket.list()``
        lists the saved blocks instead."""
        prefix = self._prefix(path)
        paths = [
            self._path_of(item["Key"])
            for page in self._pages(prefix, "listing")
            for item in page.get("Contents", ())
            if not item["Key"].endswith("/")
        ]
        if not paths and self._relative(path) and self.exists(path):
            return [self._relative(path)]
        return sorted(paths)

    # -- listing --------------------------------------------------------------------------

    def _pages(
        self, prefix: str, action: str, delimiter: str = "", page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every page of ``ListObjectsV2`` under ``prefix``."""
        paginator = self._client().get_paginator("list_objects_v2")
        arguments: dict[str, Any] = {"Bucket": self.bucket_name, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        if page_size is not None:
            arguments["PaginationConfig"] = {"PageSize": page_size}
        try:
            yield from paginator.paginate(**arguments)
        except Exception as exc:
            raise self._fail(exc, action.capitalize(), prefix=prefix) from None

    def list_objects(
        self, folder: str = "", delimiter: str = "", page_size: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every object under ``folder`` (all pages, past S3's 1,000 keys per request), in
        key order: boto3's dicts (``Key``: the full S3 key, ``Size``, ``LastModified``,
        ``ETag``, ``StorageClass``), each with ``Path``, its path relative to
        ``bucket_folder``, added.

        With a ``delimiter`` (usually ``"/"``), only the objects directly in ``folder`` are
        listed, and after them comes one ``{"Prefix": ..., "Path": ...}`` dict per
        subfolder ("common prefix"; ``Prefix`` is the full key prefix ending with the
        delimiter, ``Path`` relative to ``bucket_folder``). Tell the two apart by their
        ``Key`` or ``Prefix`` entry. ``page_size`` (1 to 1,000) sets how many keys each
        request asks for.
        """
        if page_size is not None and (
            not isinstance(page_size, int)
            or isinstance(page_size, bool)
            or not 1 <= page_size <= MAX_KEYS
        ):
            raise BlockError(
                f"page_size must be a whole number from 1 to 1000, or None; got {page_size!r}."
            )
        if not isinstance(delimiter, str):
            raise BlockError(f"delimiter must be a string such as '/', got {delimiter!r}.")
        objects: builtins.list[dict[str, Any]] = []
        folders: builtins.list[dict[str, Any]] = []
        prefix = self._prefix(folder)
        for page in self._pages(prefix, "listing", delimiter, page_size):
            for item in page.get("Contents", ()):
                objects.append({**item, "Path": self._path_of(item["Key"])})
            for common in page.get("CommonPrefixes", ()):
                folders.append(
                    {"Prefix": common["Prefix"], "Path": self._path_of(common["Prefix"])}
                )
        return objects + folders

    # -- uploads --------------------------------------------------------------------------

    def upload_from_path(
        self, from_path: str | os.PathLike[str], to_path: str | None = None
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: the file's name);
        returns the object's key. Multipart from 8 MB."""
        source = Path(from_path).expanduser()
        if not source.is_file():
            raise BlockError(f"Cannot upload {str(source)!r}: it is not a file.")
        key = self._key(to_path if to_path is not None else source.name, "to_path")
        try:
            with source.open("rb") as file:
                self._client().upload_fileobj(file, self.bucket_name, key, Config=transfer_config())
        except Exception as exc:
            raise self._fail(exc, f"Uploading {str(source)!r}", key=key) from None
        return key

    def upload_from_file_object(self, file: IO[bytes], to_path: str) -> str:
        """Upload the content of a binary file object (from its current position) to
        ``to_path``; returns the object's key. Multipart from 8 MB."""
        key = self._key(to_path, "to_path")
        try:
            self._client().upload_fileobj(file, self.bucket_name, key, Config=transfer_config())
        except Exception as exc:
            raise self._fail(exc, "Uploading a file object", key=key) from None
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
        client = self._client()

        def upload(file: Path, key: str) -> None:
            try:
                with file.open("rb") as handle:
                    client.upload_fileobj(handle, self.bucket_name, key, Config=transfer_config())
            except Exception as exc:
                raise self._fail(exc, f"Uploading {str(file)!r}", key=key) from None

        _run_all(upload, jobs)
        return prefix

    # -- downloads ------------------------------------------------------------------------

    def download_object_to_path(self, from_path: str, to_path: str | os.PathLike[str]) -> Path:
        """Download the object at ``from_path`` to the local file ``to_path`` (parent
        folders are created; an existing file is replaced only once the download is
        complete); returns the local path. Multipart (ranged, parallel) from 8 MB."""
        key = self._key(from_path, "from_path")
        target = Path(to_path).expanduser()
        self._download(self._client(), key, target)
        return target

    def download_object_to_file_object(self, from_path: str, file: IO[bytes]) -> IO[bytes]:
        """Download the object at ``from_path`` into a binary, writable file object;
        returns it."""
        key = self._key(from_path, "from_path")
        try:
            self._client().download_fileobj(self.bucket_name, key, file, Config=transfer_config())
        except Exception as exc:
            raise self._fail(exc, "Downloading", key=key) from None
        return file

    def download_folder_to_path(self, from_folder: str, to_folder: str | os.PathLike[str]) -> Path:
        """Download every object under ``from_folder`` (recursively) into the local folder
        ``to_folder``, keeping their paths relative to ``from_folder``; returns the local
        folder. A key that would land outside ``to_folder`` is refused."""
        prefix = self._prefix(from_folder, "from_folder")
        target = Path(to_folder).expanduser().resolve()
        jobs: builtins.list[tuple[str, Path]] = []
        for page in self._pages(prefix, "listing"):
            for item in page.get("Contents", ()):
                key = item["Key"]
                if key.endswith("/"):  # a folder marker
                    continue
                local = (target / key[len(prefix) :]).resolve()
                if not local.is_relative_to(target):
                    raise BlockError(
                        f"Object {key!r} in bucket {self.bucket_name!r} would be downloaded "
                        f"outside {str(target)!r}; not downloading the folder."
                    )
                jobs.append((key, local))
        target.mkdir(parents=True, exist_ok=True)
        client = self._client()
        _run_all(lambda key, local: self._download(client, key, local), jobs)
        return target

    def _download(self, client: Any, key: str, target: Path) -> None:
        """Download into a temporary file beside ``target``, renamed into place when done."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
        )
        try:
            with os.fdopen(fd, "wb") as file:
                client.download_fileobj(self.bucket_name, key, file, Config=transfer_config())
            os.replace(temporary, target)
        except BaseException as exc:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(exc, Exception) and not isinstance(exc, BlockError | AwsError):
                raise self._fail(exc, f"Downloading to {str(target)!r}", key=key) from None
            raise

    # -- copies, moves and deletes --------------------------------------------------------

    def _destination(self, to_path: str, to_bucket: S3Bucket | str | None) -> tuple[str, str]:
        if to_bucket is None:
            return self.bucket_name, self._key(to_path, "to_path")
        if isinstance(to_bucket, S3Bucket):
            return to_bucket.bucket_name, to_bucket._key(to_path, "to_path")
        if isinstance(to_bucket, str) and to_bucket.strip() and "/" not in to_bucket:
            return to_bucket.strip(), S3Bucket(bucket_name=to_bucket)._key(to_path, "to_path")
        raise BlockError(
            f"to_bucket must be an S3Bucket, a bucket name (e.g. 'archive') or None; got "
            f"{to_bucket!r}."
        )

    def copy_object(
        self, from_path: str, to_path: str, to_bucket: S3Bucket | str | None = None
    ) -> str:
        """Copy the object at ``from_path`` to ``to_path``, in this bucket or in
        ``to_bucket``; returns the new key. ``to_path`` is relative to the destination's
        ``bucket_folder`` when ``to_bucket`` is an ``S3Bucket``, and the full key when it is
        a bucket name. The copy happens inside S3 (multipart from 8 MB), with this block's
        credentials, which must be able to read the source and write the destination."""
        source_key = self._key(from_path, "from_path")
        bucket, key = self._destination(to_path, to_bucket)
        try:
            self._client().copy(
                {"Bucket": self.bucket_name, "Key": source_key},
                bucket,
                key,
                Config=transfer_config(),
            )
        except Exception as exc:
            raise self._fail(exc, "Copying", key=source_key, to_bucket=bucket, to_key=key) from None
        return key

    def move_object(
        self, from_path: str, to_path: str, to_bucket: S3Bucket | str | None = None
    ) -> str:
        """Move the object at ``from_path`` to ``to_path`` (see ``copy_object``): a copy,
        then a delete of the source; returns the new key."""
        key = self.copy_object(from_path, to_path, to_bucket)
        source_key = self._key(from_path, "from_path")
        try:
            self._client().delete_object(Bucket=self.bucket_name, Key=source_key)
        except Exception as exc:
            raise self._fail(
                exc, "Deleting the source of a move (the copy was made)", key=source_key
            ) from None
        return key

    def delete_objects(self, paths_or_folder: str | Iterable[str]) -> builtins.list[str]:
        """Delete objects; returns the deleted paths (relative to ``bucket_folder``).

        - A list of paths deletes those objects (missing ones are not an error).
        - A string is a folder: every object under it, recursively, is deleted, and so is
          an object at exactly that path. ``""`` (everything under ``bucket_folder``) is
          refused; pass ``bucket.list()`` to mean it.

        Keys go to S3 in batches of 1,000 (one ``DeleteObjects`` request each). A key S3
        could not delete raises ``AwsError`` naming it and AWS's code.
        """
        if isinstance(paths_or_folder, str | os.PathLike):
            relative = self._relative(paths_or_folder, "Folder")
            if not relative:
                raise BlockError(
                    "delete_objects('') would delete everything under the bucket folder; to "
                    "mean that, pass the paths: bucket.delete_objects(bucket.list())."
                )
            prefix = self._prefix(relative)
            keys = [
                item["Key"]
                for page in self._pages(prefix, "listing for a delete")
                for item in page.get("Contents", ())
            ]
            exact = self._key(relative)
            if self.exists(relative):
                keys.insert(0, exact)
        else:
            keys = [self._key(path) for path in paths_or_folder]
        deleted: builtins.list[str] = []
        client = self._client()
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                response = client.delete_objects(
                    Bucket=self.bucket_name,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except Exception as exc:
                where = batch[0] if len(batch) == 1 else f"{batch[0]} and {len(batch) - 1} more"
                raise self._fail(exc, "Deleting", key=where) from None
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                code = str(first.get("Code") or "Unknown")
                more = f" (and {len(errors) - 1} more keys)" if len(errors) > 1 else ""
                raise AwsError(
                    f"Deleting (bucket {self.bucket_name!r}, key {first.get('Key')!r}) failed "
                    f"with AWS error {code}: {first.get('Message', '')}{more}",
                    code,
                )
            deleted.extend(self._path_of(key) for key in batch)
        return deleted


def _segments(path: str) -> builtins.list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code"))
    return None


def _run_all(function: Any, jobs: builtins.list[tuple[Any, Any]]) -> None:
    """``function(*job)`` for every job, ``MAX_CONCURRENCY`` at a time; the first error
    cancels the jobs not yet started and is raised."""
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENCY, len(jobs))) as pool:
        futures: builtins.list[Future[None]] = [pool.submit(function, *job) for job in jobs]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
