"""ObjectStorageBucket's shared logic, tested once on ``MemoryBucket``, a real subclass that
keeps its objects in a dict: paths relative to ``bucket_folder`` and ``..`` refused, the
WritableFileSystem interface, nested folder round trips in parallel (the first failure stops
the rest), downloads through a temporary file and refusing keys that would land outside,
listings with a delimiter and a page size, copies, moves (a copy, then a delete), batched
deletes, and provider errors named by operation, bucket and key."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import pytest
from fixtures.files import files_in, make_tree
from pydantic import Field, ValidationError

from plait.blocks import ObjectStorageBucket, WritableFileSystem
from plait.exceptions import BlockError, PlaitError

BUCKETS: dict[str, dict[str, bytes]] = {}
"""Every bucket of the in-memory store: name -> key -> content."""
CALLS: list[tuple[Any, ...]] = []
"""Every primitive call that changes something or lists, in order."""
_lock = threading.Lock()


class MemoryStoreError(PlaitError):
    """What ``MemoryBucket._fail`` turns provider errors into."""


class MemoryBucket(ObjectStorageBucket):
    """A bucket of the in-memory test store."""

    _max_page_size: ClassVar[int] = 50
    _delete_batch_size: ClassVar[int] = 3

    bucket_name: str = Field(description="The in-memory bucket's name.")
    fail_on: str = Field(default="", description="Writes of keys ending with this fail.")

    def _objects(self, bucket: str | None = None) -> dict[str, bytes]:
        try:
            return BUCKETS[bucket or self.bucket_name]
        except KeyError:
            raise LookupError("NoSuchBucket") from None

    def _put_object(self, key: str, file: IO[bytes], size: int | None) -> None:
        content = file.read()
        assert size is None or size == len(content)
        if self.fail_on and key.endswith(self.fail_on):
            raise OSError("disk full")
        with _lock:
            self._objects()[key] = content
            CALLS.append(("put", key))

    def _get_object(self, key: str, file: IO[bytes]) -> None:
        objects = self._objects()
        if key not in objects:
            raise KeyError("NoSuchKey")
        file.write(objects[key])

    def _object_exists(self, key: str) -> bool:
        return key in self._objects()

    def _iter_objects(
        self, prefix: str, delimiter: str, page_size: int | None
    ) -> Iterator[dict[str, Any]]:
        CALLS.append(("list", prefix, delimiter, page_size))
        seen: set[str] = set()
        for key in sorted(self._objects()):  # folders interleaved with objects, like S3's pages
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if folder not in seen:
                    seen.add(folder)
                    yield {"Prefix": folder}
                continue
            yield {"Key": key, "Size": len(self._objects()[key]), "ETag": f'"{key}"'}

    def _copy_object(self, key: str, to_bucket_name: str, to_key: str) -> None:
        content = self._objects()[key]
        self._objects(to_bucket_name)[to_key] = content
        CALLS.append(("copy", key, to_bucket_name, to_key))

    def _delete_keys(self, keys: list[str]) -> None:
        assert 1 <= len(keys) <= self._delete_batch_size
        for key in keys:
            self._objects().pop(key, None)
        CALLS.append(("delete", keys))

    def _fail(self, exc: Exception, action: str, **where: Any) -> MemoryStoreError:
        place = ", ".join(f"{name} {value!r}" for name, value in where.items() if value)
        return MemoryStoreError(
            f"{action} (bucket {self.bucket_name!r}, {place}) failed: {exc.args[0]}"
        )


class OtherStoreBucket(ObjectStorageBucket):
    """A bucket of another store (the same primitives): a copy cannot reach it. Its name is
    a property over a field named differently, as ``GcsBucket`` does."""

    bucket: str

    @property
    def bucket_name(self) -> str:
        return self.bucket

    _objects = MemoryBucket._objects
    _put_object = MemoryBucket._put_object
    _get_object = MemoryBucket._get_object
    _object_exists = MemoryBucket._object_exists
    _iter_objects = MemoryBucket._iter_objects
    _copy_object = MemoryBucket._copy_object
    _delete_keys = MemoryBucket._delete_keys
    _fail = MemoryBucket._fail


@pytest.fixture(autouse=True)
def store() -> Iterator[dict[str, dict[str, bytes]]]:
    BUCKETS.clear()
    BUCKETS.update({"raw": {}, "archive": {}})
    CALLS.clear()
    yield BUCKETS
    BUCKETS.clear()
    CALLS.clear()


@pytest.fixture
def bucket() -> MemoryBucket:
    return MemoryBucket(bucket_name="raw", bucket_folder="base")


def keys(bucket: str = "raw") -> list[str]:
    return sorted(BUCKETS[bucket])


# -- the contract -------------------------------------------------------------------------


def test_the_base_is_abstract_and_names_its_primitives():
    assert ObjectStorageBucket.__abstractmethods__ == {
        "_put_object",
        "_get_object",
        "_object_exists",
        "_iter_objects",
        "_copy_object",
        "_delete_keys",
        "_fail",
    }
    with pytest.raises(TypeError):
        ObjectStorageBucket(bucket_name="raw")  # type: ignore[abstract]
    assert issubclass(ObjectStorageBucket, WritableFileSystem)
    assert MemoryBucket.get_capabilities() == ["read-path", "write-path"]
    assert list(MemoryBucket.model_fields)[:2] == ["bucket_folder", "bucket_name"]


# -- paths --------------------------------------------------------------------------------


def test_write_read_exists_under_the_bucket_folder(bucket: MemoryBucket):
    assert bucket.write_path("/events//./2026.json", bytearray(b"[1]")) == "base/events/2026.json"
    assert keys() == ["base/events/2026.json"]
    assert bucket.read_path("events/2026.json") == b"[1]"
    assert bucket.exists("events/2026.json")
    assert not bucket.exists("events/2027.json")
    assert MemoryBucket(bucket_name="raw").read_path("base/events/2026.json") == b"[1]"


def test_bucket_folder_is_normalized_and_refuses_dotdot():
    assert MemoryBucket(bucket_name="raw", bucket_folder="/a//b/./").bucket_folder == "a/b"
    with pytest.raises(ValidationError, match=r"(?s)bucket_folder.*'\.\.'"):
        MemoryBucket(bucket_name="raw", bucket_folder="a/../b")


@pytest.mark.parametrize("path", ["../x", "a/../../x", "..", "a/.."])
def test_paths_with_dotdot_are_refused_before_the_store_is_called(
    bucket: MemoryBucket, path: str, tmp_path: Path
):
    calls = [
        lambda: bucket.read_path(path),
        lambda: bucket.write_path(path, b"."),
        lambda: bucket.exists(path),
        lambda: bucket.list(path),
        lambda: bucket.list_objects(path),
        lambda: bucket.upload_from_file_object(io.BytesIO(b"."), path),
        lambda: bucket.upload_from_folder(tmp_path, path),
        lambda: bucket.download_object_to_path(path, tmp_path / "x"),
        lambda: bucket.download_object_to_file_object(path, io.BytesIO()),
        lambda: bucket.download_folder_to_path(path, tmp_path / "x"),
        lambda: bucket.copy_object(path, "a"),
        lambda: bucket.copy_object("a", path),
        lambda: bucket.move_object("a", path, to_bucket="archive"),
        lambda: bucket.delete_objects(path),
        lambda: bucket.delete_objects([path]),
    ]
    for call in calls:
        with pytest.raises(
            BlockError, match=r"contains '\.\.'.*bucket_folder 'base'.*MemoryBucket"
        ):
            call()
    assert CALLS == []


def test_an_empty_file_path_is_refused(bucket: MemoryBucket):
    for empty in ("", "/", "./"):
        with pytest.raises(BlockError, match="names no file"):
            bucket.write_path(empty, b".")


def test_write_refuses_text_with_the_fix(bucket: MemoryBucket):
    with pytest.raises(BlockError, match=r"MemoryBucket\.write_path needs bytes, got str.*encode"):
        bucket.write_path("a.txt", "text")  # type: ignore[arg-type]


# -- list ---------------------------------------------------------------------------------


def test_list_is_recursive_sorted_relative_and_skips_folder_markers(
    bucket: MemoryBucket, store: dict[str, dict[str, bytes]]
):
    for path in ["b/2.txt", "a/1.txt", "a/deep/er/3.txt", "top.txt"]:
        bucket.write_path(path, b".")
    store["raw"].update({"base/a/marker/": b"", "outside.txt": b"", "base-other/x.txt": b""})

    assert bucket.list() == ["a/1.txt", "a/deep/er/3.txt", "b/2.txt", "top.txt"]
    assert bucket.list("a/") == bucket.list("a") == ["a/1.txt", "a/deep/er/3.txt"]
    assert bucket.list("a/1.txt") == ["a/1.txt"]
    assert bucket.list("nothing") == []


def test_list_on_the_class_lists_saved_blocks(bucket: MemoryBucket):
    assert MemoryBucket.list() == []
    bucket.save("raw-base")

    assert MemoryBucket.list() == ["raw-base"]
    assert bucket.list() == []


def test_list_objects_shape_and_delimiter_puts_folders_after_objects(bucket: MemoryBucket):
    for path in ["d/x.txt", "d/sub1/a.txt", "d/y.txt", "d/sub2/deeper/b.txt", "other.txt"]:
        bucket.write_path(path, b"..")

    everything = bucket.list_objects("d")
    listing = bucket.list_objects("d", delimiter="/", page_size=7)

    assert [o["Path"] for o in everything] == [
        "d/sub1/a.txt",
        "d/sub2/deeper/b.txt",
        "d/x.txt",
        "d/y.txt",
    ]
    assert everything[0] == {
        "Key": "base/d/sub1/a.txt",
        "Path": "d/sub1/a.txt",
        "Size": 2,
        "ETag": '"base/d/sub1/a.txt"',
    }
    assert [item.get("Key") for item in listing[:2]] == ["base/d/x.txt", "base/d/y.txt"]
    assert listing[2:] == [
        {"Prefix": "base/d/sub1/", "Path": "d/sub1/"},
        {"Prefix": "base/d/sub2/", "Path": "d/sub2/"},
    ]
    assert ("list", "base/d/", "/", 7) in CALLS
    assert [item["Path"] for item in bucket.list_objects(delimiter="/")] == ["other.txt", "d/"]


@pytest.mark.parametrize("page_size", [0, -1, 51, 2.5, True, "10"])
def test_list_objects_refuses_a_page_size_beyond_the_store_maximum(
    bucket: MemoryBucket, page_size: Any
):
    with pytest.raises(BlockError, match="page_size must be a whole number from 1 to 50"):
        bucket.list_objects(page_size=page_size)


def test_list_objects_refuses_a_non_string_delimiter(bucket: MemoryBucket):
    with pytest.raises(BlockError, match="delimiter must be a string"):
        bucket.list_objects(delimiter=None)  # type: ignore[arg-type]


# -- uploads and downloads ----------------------------------------------------------------


def test_file_and_file_object_round_trips(bucket: MemoryBucket, tmp_path: Path):
    source = tmp_path / "report.csv"
    source.write_bytes(b"id\n1\n")
    stream = io.BytesIO(b"skip:payload")
    stream.seek(5)

    assert bucket.upload_from_path(source) == "base/report.csv"
    assert bucket.upload_from_path(str(source), "reports/r.csv") == "base/reports/r.csv"
    assert bucket.upload_from_file_object(stream, "f.bin") == "base/f.bin"
    target = bucket.download_object_to_path("reports/r.csv", tmp_path / "out" / "deep" / "r.csv")
    into = io.BytesIO()

    assert target == tmp_path / "out" / "deep" / "r.csv"
    assert target.read_bytes() == b"id\n1\n"
    assert bucket.download_object_to_file_object("f.bin", into) is into
    assert into.getvalue() == b"payload"
    with pytest.raises(BlockError, match="it is not a file"):
        bucket.upload_from_path(tmp_path / "missing.csv")


def test_a_failed_download_leaves_no_partial_file_and_keeps_the_old_one(
    bucket: MemoryBucket, tmp_path: Path
):
    target = tmp_path / "out" / "kept.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")

    with pytest.raises(MemoryStoreError, match=r"Downloading to .*key 'base/missing.bin'"):
        bucket.download_object_to_path("missing.bin", target)

    assert [p.name for p in target.parent.iterdir()] == ["kept.bin"]
    assert target.read_bytes() == b"old"


def test_nested_folders_round_trip(
    bucket: MemoryBucket, store: dict[str, dict[str, bytes]], tmp_path: Path
):
    files = make_tree(tmp_path / "export")

    assert bucket.upload_from_folder(tmp_path / "export", "day/24") == "base/day/24/"
    assert keys() == sorted(f"base/day/24/{p}" for p in files)
    store["raw"]["base/day/24/a/marker/"] = b""  # a console "folder": no local file for it
    downloaded = bucket.download_folder_to_path("day/24", tmp_path / "copy")

    assert downloaded == (tmp_path / "copy").resolve()
    assert files_in(downloaded) == files
    assert not any(p.name.endswith(".partial") for p in downloaded.rglob("*"))
    assert bucket.upload_from_folder(tmp_path / "export") == "base/"
    assert MemoryBucket(bucket_name="raw").upload_from_folder(tmp_path / "export") == ""
    with pytest.raises(BlockError, match="it is not a folder"):
        bucket.upload_from_folder(tmp_path / "export" / "top.txt")


def test_the_first_failed_upload_stops_the_rest(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(MemoryBucket, "_max_concurrency", 1)
    make_tree(tmp_path / "export")
    failing = MemoryBucket(bucket_name="raw", fail_on="a/b/c/three.bin")  # the first, sorted

    with pytest.raises(MemoryStoreError) as caught:
        failing.upload_from_folder(tmp_path / "export")

    assert str(caught.value).startswith("Uploading ")
    assert "key 'a/b/c/three.bin') failed: disk full" in str(caught.value)
    assert keys() == []


def test_download_folder_refuses_keys_that_would_land_outside(
    bucket: MemoryBucket, store: dict[str, dict[str, bytes]], tmp_path: Path
):
    store["raw"].update({"base/d/ok.txt": b".", "base/d/../../evil.txt": b"."})

    with pytest.raises(BlockError, match=r"'base/d/\.\./\.\./evil\.txt' in bucket 'raw'.*outside"):
        bucket.download_folder_to_path("d", tmp_path / "target")

    assert list(tmp_path.rglob("*")) == []


# -- copies, moves, deletes ---------------------------------------------------------------


def test_copy_within_and_across_buckets(bucket: MemoryBucket):
    archive = MemoryBucket(bucket_name="archive", bucket_folder="2026")
    bucket.write_path("src.txt", b"payload")

    assert bucket.copy_object("src.txt", "copies/src.txt") == "base/copies/src.txt"
    assert bucket.copy_object("src.txt", "nov/src.txt", to_bucket=archive) == "2026/nov/src.txt"
    assert bucket.copy_object("src.txt", "flat/src.txt", to_bucket=" archive ") == "flat/src.txt"

    assert keys() == ["base/copies/src.txt", "base/src.txt"]
    assert keys("archive") == ["2026/nov/src.txt", "flat/src.txt"]


def test_move_is_a_copy_then_a_delete_of_the_source(bucket: MemoryBucket):
    archive = MemoryBucket(bucket_name="archive", bucket_folder="2026")
    bucket.write_path("src.txt", b"payload")
    CALLS.clear()

    assert bucket.move_object("src.txt", "moved.txt", to_bucket=archive) == "2026/moved.txt"

    assert CALLS == [
        ("copy", "base/src.txt", "archive", "2026/moved.txt"),
        ("delete", ["base/src.txt"]),
    ]
    assert keys() == []
    assert archive.read_path("moved.txt") == b"payload"


def test_a_failed_move_copy_deletes_nothing(bucket: MemoryBucket):
    with pytest.raises(MemoryStoreError, match=r"^Copying .*key 'base/missing.txt'.*to_key"):
        bucket.move_object("missing.txt", "moved.txt")
    assert CALLS == []


@pytest.mark.parametrize("to_bucket", ["s3://archive", "", "a/b", 3])
def test_copy_refuses_a_bad_to_bucket(bucket: MemoryBucket, to_bucket: Any):
    with pytest.raises(BlockError, match="to_bucket must be a MemoryBucket, a bucket name"):
        bucket.copy_object("a", "b", to_bucket=to_bucket)


def test_copy_reaches_buckets_of_the_same_store_only(bucket: MemoryBucket):
    class FolderBucket(MemoryBucket):
        """A MemoryBucket subclass: still the same store."""

    bucket.write_path("a", b".")

    assert bucket.copy_object("a", "b", to_bucket=FolderBucket(bucket_name="archive")) == "b"
    with pytest.raises(BlockError, match="to_bucket must be a MemoryBucket"):
        bucket.copy_object("a", "b", to_bucket=OtherStoreBucket(bucket="archive"))


def test_delete_paths_and_folders_in_batches(bucket: MemoryBucket):
    for path in ["a.txt", "b.txt", "d", "d/1.txt", "d/e/2.txt", "d/e/3.txt", "d/f/4.txt", "dd/5"]:
        bucket.write_path(path, b".")
    CALLS.clear()

    assert bucket.delete_objects(["a.txt", "missing.txt"]) == ["a.txt", "missing.txt"]
    deleted = bucket.delete_objects("d")

    assert sorted(deleted) == ["d", "d/1.txt", "d/e/2.txt", "d/e/3.txt", "d/f/4.txt"]
    assert [len(call[1]) for call in CALLS if call[0] == "delete"] == [2, 3, 2]  # batches of 3
    assert keys() == ["base/b.txt", "base/dd/5"]
    for everything in ("", "/", "."):
        with pytest.raises(BlockError, match=r"bucket\.delete_objects\(bucket\.list\(\)\)"):
            bucket.delete_objects(everything)
    assert bucket.delete_objects(bucket.list()) == ["b.txt", "dd/5"]
    assert keys() == []


# -- errors -------------------------------------------------------------------------------


def test_provider_errors_name_the_operation_bucket_and_key(tmp_path: Path):
    missing = MemoryBucket(bucket_name="gone", bucket_folder="f")
    calls = {
        "Reading": lambda: missing.read_path("a.txt"),
        "Writing": lambda: missing.write_path("a.txt", b"."),
        "Checking": lambda: missing.exists("a.txt"),
        "Listing": lambda: missing.list(),
        "Uploading a file object": lambda: missing.upload_from_file_object(io.BytesIO(), "a.txt"),
        "Downloading": lambda: missing.download_object_to_file_object("a.txt", io.BytesIO()),
        "Copying": lambda: missing.copy_object("a.txt", "b.txt"),
        "Deleting": lambda: missing.delete_objects(["a.txt"]),
        "Listing for a delete": lambda: missing.delete_objects("d"),
    }
    for action, call in calls.items():
        with pytest.raises(MemoryStoreError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{action} (bucket 'gone', "), message
        assert message.endswith("failed: NoSuchBucket"), message
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


def test_plait_errors_from_a_primitive_pass_through(bucket: MemoryBucket, monkeypatch):
    own = MemoryStoreError("Checking: the bucket does not exist")

    def refuse(self: MemoryBucket, key: str) -> bool:
        raise own

    monkeypatch.setattr(MemoryBucket, "_object_exists", refuse)
    with pytest.raises(MemoryStoreError) as caught:
        bucket.exists("a.txt")
    assert caught.value is own
