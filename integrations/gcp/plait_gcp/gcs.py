"""A Google Cloud Storage bucket (or a folder in one) as a Plait storage block.

``GcsBucket`` is an ``ObjectStorageBucket`` (``plait.blocks.object_storage``): the paths,
folder transfers, listings, copies, moves, deletes and argument checks are Plait's shared
code, the same as ``S3Bucket``'s. This module implements only the Cloud Storage primitives
under them, with the real ``google-cloud-storage`` client: uploads (resumable, in 8 MB
chunks, above 8 MB), downloads, listings, server-side copies (rewrites) and batched deletes.
Every failure is a ``GcpError`` naming the operation, the bucket, the object and Google's
answer.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from pydantic import Field, field_validator

from plait.blocks import ObjectStorageBucket
from plait_gcp.credentials import GcpCredentials
from plait_gcp.errors import GcpError, describe, gcp_error

MB = 1024 * 1024
RESUMABLE_THRESHOLD = 8 * MB
"""Objects larger than this (or of unknown size) go up in a resumable upload."""
CHUNK_SIZE = 8 * MB
"""The size of each request of a resumable upload (a multiple of 256 KB)."""
DELETE_BATCH = 100
"""Cloud Storage takes at most 100 calls in one batch request."""
MAX_RESULTS = 1000
"""Cloud Storage answers at most 1,000 objects and folders per listing request."""
CLIENT_TIMEOUT = 30.0
"""How long Google's client retries a request (or a resumable upload's chunk)
that failed transiently before giving up; Plait's task retries come on top."""


def client_retry() -> Any:
    """Google's default retry policy (transient errors only), bounded by
    ``CLIENT_TIMEOUT`` seconds."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_timeout(CLIENT_TIMEOUT)


class GcsBucket(ObjectStorageBucket):
    """A Google Cloud Storage bucket, or a folder in one (``bucket_folder``), for reading and
    writing files: result storage, uploads and downloads of files and folders (resumable
    above 8 MB), listings, copies, moves and deletes.

    Paths are relative to ``bucket_folder`` and use ``/``. Empty and ``.`` segments are
    dropped (``a//./b`` is ``a/b``) and ``..`` is refused, so no path reaches outside
    ``bucket_folder``.
    """

    _documentation_url = "https://plait.dev/docs/integrations/gcp#gcsbucket"
    _code_example = """
        from plait_gcp import GcpCredentials, GcsBucket

        bucket = GcsBucket(
            bucket="raw",
            bucket_folder="events",
            credentials=GcpCredentials.load("prod"),
        )
        bucket.save("raw-events")

        bucket = GcsBucket.load("raw-events")
        bucket.write_path("2026/11/24.json", b"[]")
        bucket.upload_from_folder("exports/", to_folder="2026/11/24/")
        for path in bucket.list("2026/11/"):
            print(path)
    """

    _delete_batch_size: ClassVar[int] = DELETE_BATCH
    _max_page_size: ClassVar[int] = MAX_RESULTS

    _bucket_field = "bucket"

    bucket: str = Field(description="The bucket's name, e.g. 'raw' (not a gs:// URL).")
    credentials: GcpCredentials = Field(
        default_factory=GcpCredentials,
        description="How to reach Google Cloud; by default Application Default Credentials.",
    )

    @field_validator("bucket")
    @classmethod
    def _check_bucket(cls, value: str) -> str:
        return cls._bucket_name_alone(value)

    @property
    def bucket_name(self) -> str:
        """The bucket's name (``bucket``), as every ``ObjectStorageBucket`` names it."""
        return self.bucket

    # -- the google-cloud-storage client --------------------------------------------------

    def _client(self) -> Any:
        return self.credentials.get_cloud_storage_client()

    def _gcs_bucket(self, name: str | None = None) -> Any:
        """The client's ``Bucket`` for ``name`` (default: this bucket); no request."""
        return self._client().bucket(name or self.bucket)

    def _bucket_exists(self, name: str) -> bool | None:
        """Whether the bucket ``name`` exists, or None when that cannot be told."""
        try:
            return bool(self._gcs_bucket(name).exists(retry=None, timeout=CLIENT_TIMEOUT))
        except Exception:
            return None

    # -- the primitives -------------------------------------------------------------------

    def _put_object(self, key: str, file: IO[bytes], size: int | None) -> None:
        """One request up to 8 MB; above (or of unknown size), a resumable upload in 8 MB
        chunks, each retried on its own. The object appears only once complete."""
        resumable = size is None or size > RESUMABLE_THRESHOLD
        blob = self._gcs_bucket().blob(key, chunk_size=CHUNK_SIZE if resumable else None)
        stream = _FromHere(file) if resumable else file
        blob.upload_from_file(stream, size=size, retry=client_retry())

    def _get_object(self, key: str, file: IO[bytes]) -> None:
        self._gcs_bucket().blob(key).download_to_file(file, retry=client_retry())

    def _object_exists(self, key: str) -> bool:
        if self._gcs_bucket().blob(key).exists(retry=client_retry()):
            return True
        if self._bucket_exists(self.bucket) is False:  # exists() is False for both
            raise self._missing_bucket(self.bucket, "Checking", key=key)
        return False

    def _iter_objects(
        self, prefix: str, delimiter: str, page_size: int | None
    ) -> Iterator[dict[str, Any]]:
        listing = self._client().list_blobs(
            self.bucket,
            prefix=prefix or None,
            delimiter=delimiter or None,
            page_size=page_size,
            retry=client_retry(),
        )
        for page in listing.pages:
            for blob in page:
                yield {
                    "Key": blob.name,
                    "Size": blob.size,
                    "LastModified": blob.updated,
                    "ETag": blob.etag,
                    "Generation": blob.generation,
                    "ContentType": blob.content_type,
                    "StorageClass": blob.storage_class,
                    "Md5Hash": blob.md5_hash,
                }
            for folder in sorted(page.prefixes):
                yield {"Prefix": folder}

    def _copy_object(self, key: str, to_bucket_name: str, to_key: str) -> None:
        """A rewrite inside Cloud Storage: large objects (or copies across locations and
        storage classes) take several calls, each resuming where the last one stopped."""
        source = self._gcs_bucket().blob(key)
        target = self._gcs_bucket(to_bucket_name).blob(to_key)
        token, _, _ = target.rewrite(source, retry=client_retry())
        while token is not None:
            token, _, _ = target.rewrite(source, token=token, retry=client_retry())

    def _delete_keys(self, keys: builtins.list[str]) -> None:
        """One batch request for up to 100 objects. When any call in it failed (a missing
        object, say), each object is deleted on its own, so that a missing one is skipped
        and any other failure names its object."""
        from google.api_core.exceptions import GoogleAPICallError, NotFound

        bucket = self._gcs_bucket()
        try:
            with self._client().batch():
                for key in keys:
                    bucket.delete_blob(key)
            return
        except GoogleAPICallError:
            pass
        missing = 0
        for key in keys:
            try:
                bucket.delete_blob(key, retry=client_retry())
            except NotFound:
                missing += 1
            except Exception as exc:
                raise self._fail(exc, "Deleting", key=key) from None
        if missing == len(keys) and self._bucket_exists(self.bucket) is False:
            raise self._missing_bucket(self.bucket, "Deleting", key=keys[0])

    # -- errors ---------------------------------------------------------------------------

    def _fail(self, exc: Exception, action: str, **where: Any) -> GcpError:
        """``exc`` as a ``GcpError`` naming the bucket and object. For a 404, which Cloud
        Storage answers for a missing bucket and a missing object alike, it finds out which
        one is missing (one more request) and says so."""
        problem = None
        if getattr(exc, "code", None) == 404:
            problem = self._what_is_missing(where)
        return gcp_error(exc, action, problem=problem, **self._where(where))

    def _what_is_missing(self, where: dict[str, Any]) -> str | None:
        for name in dict.fromkeys([self.bucket, where.get("to_bucket")]):
            if name and self._bucket_exists(name) is False:
                return f"the bucket {name!r} does not exist"
        if where.get("key") is not None:
            source = "source " if where.get("to_key") is not None else ""
            return f"the {source}object does not exist"
        return None

    def _where(self, where: dict[str, Any]) -> dict[str, Any]:
        """The shared code's ``key``/``to_key`` as Cloud Storage's ``object``/``to_object``,
        after the bucket."""
        names = {"key": "object", "to_key": "to_object"}
        return {"bucket": self.bucket, **{names.get(k, k): v for k, v in where.items()}}

    def _missing_bucket(self, name: str, action: str, **where: Any) -> GcpError:
        return GcpError(
            f"{action}{describe(self._where(where))} failed with Google Cloud error 404 "
            f"(notFound): the bucket {name!r} does not exist",
            404,
            "notFound",
        )


class _FromHere:
    """A binary file object seen from its current position, which becomes position 0:
    Google's resumable uploads need a stream at its beginning, while Plait uploads a file
    object from where it stands. Works for streams that cannot seek too, as long as no
    chunk has to be sent again."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._offset = 0
        try:
            self._start: int | None = file.tell() if file.seekable() else None
        except (AttributeError, OSError):
            self._start = None

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._offset += len(data)
        return data

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self._offset + offset if whence == 1 else None
        if target == self._offset:
            return target
        if target is None or self._start is None:
            raise OSError("this stream cannot seek back to send a chunk again")
        self._file.seek(self._start + target)
        self._offset = target
        return target
