"""An S3 bucket (or a folder in one) as a Plait storage block.

``S3Bucket`` implements ``WritableFileSystem`` (``read_path``, ``write_path``, ``exists``,
``list``), so it works as result storage, plus the S3 operations flows need: uploads and
downloads of files, file objects and whole folders (multipart above 8 MB), paginated listings,
copies, moves and batched deletes. Every path is relative to ``bucket_folder``; every AWS
failure is an ``AwsError`` naming the operation, the bucket, the key and AWS's error code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from pydantic import Field, field_validator

from plait.blocks import ObjectStorageBucket
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


class S3Bucket(ObjectStorageBucket):
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

    _max_page_size: ClassVar[int] = MAX_KEYS
    _delete_batch_size: ClassVar[int] = DELETE_BATCH
    _max_concurrency: ClassVar[int] = MAX_CONCURRENCY

    bucket_name: str = Field(description="The bucket's name, e.g. 'raw' (not an s3:// URL).")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach AWS; by default boto3's own chain (environment, ~/.aws, "
        "instance role).",
    )

    @field_validator("bucket_name")
    @classmethod
    def _check_bucket_name(cls, value: str) -> str:
        return cls._bucket_name_alone(value)

    def _client(self) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            return self.credentials.get_client("s3")
        except AwsError:
            raise
        except BotoCoreError as exc:
            raise aws_error(exc, "Creating an S3 client", bucket=self.bucket_name) from None

    # -- ObjectStorageBucket primitives ---------------------------------------------------

    def _fail(self, exc: Exception, action: str, **where: Any) -> AwsError:
        return aws_error(exc, action, bucket=self.bucket_name, **where)

    def _put_object(self, key: str, file: IO[bytes], size: int | None) -> None:
        """One ``PutObject`` below 8 MB, a multipart upload from there (or when the size is
        not known)."""
        if size is not None and size < MULTIPART_THRESHOLD:
            self._client().put_object(Bucket=self.bucket_name, Key=key, Body=file.read())
        else:
            self._client().upload_fileobj(file, self.bucket_name, key, Config=transfer_config())

    def _get_object(self, key: str, file: IO[bytes]) -> None:
        """A managed download: a ``HeadObject``, then ranged, parallel ``GetObject`` requests
        from 8 MB (a missing key is code ``404``: a HEAD has no body)."""
        self._client().download_fileobj(self.bucket_name, key, file, Config=transfer_config())

    def _read_object(self, key: str) -> bytes:
        """One ``GetObject`` (a missing key is code ``NoSuchKey``)."""
        return self._client().get_object(Bucket=self.bucket_name, Key=key)["Body"].read()

    def _object_exists(self, key: str) -> bool:
        """``HeadObject``; on a 404, ``HeadBucket`` tells a missing key from a missing bucket.
        Without ``s3:ListBucket`` permission, S3 answers 403 for a missing object, which
        raises ``AwsError`` (code ``403``)."""
        client = self._client()
        try:
            client.head_object(Bucket=self.bucket_name, Key=key)
            return True
        except Exception as exc:
            if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
        try:
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

    def _iter_objects(
        self, prefix: str, delimiter: str, page_size: int | None
    ) -> Iterator[dict[str, Any]]:
        """Every page of ``ListObjectsV2``: boto3's object dicts (``Key``, ``Size``,
        ``LastModified``, ``ETag``, ``StorageClass``), then the page's common prefixes."""
        paginator = self._client().get_paginator("list_objects_v2")
        arguments: dict[str, Any] = {"Bucket": self.bucket_name, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        if page_size is not None:
            arguments["PaginationConfig"] = {"PageSize": page_size}
        for page in paginator.paginate(**arguments):
            yield from page.get("Contents", ())
            for common in page.get("CommonPrefixes", ()):
                yield {"Prefix": common["Prefix"]}

    def _copy_object(self, key: str, to_bucket_name: str, to_key: str) -> None:
        """A managed copy: ``CopyObject``, or ``UploadPartCopy`` parts from 8 MB."""
        self._client().copy(
            {"Bucket": self.bucket_name, "Key": key},
            to_bucket_name,
            to_key,
            Config=transfer_config(),
        )

    def _delete_keys(self, keys: list[str]) -> None:
        """One ``DeleteObjects`` request (at most 1,000 keys); a key S3 could not delete
        raises ``AwsError`` naming it and AWS's code."""
        response = self._client().delete_objects(
            Bucket=self.bucket_name,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
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


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code"))
    return None
