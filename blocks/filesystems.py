"""Storage blocks: the filesystem interfaces, and the local filesystem.

Integrations implement the same interfaces for object stores (``S3Bucket``, ``GcsBucket``),
so code written against ``WritableFileSystem`` (result storage, for one) works with any.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from pydantic import field_validator

from plait.blocks.block import Block, instance_list
from plait.exceptions import BlockError

_PARTIAL = ".partial"  # a file being written; renamed into place when complete


class ReadableFileSystem(Block, ABC):
    """A place files can be read from. Paths are relative to the block's base path and use
    ``/``."""

    @abstractmethod
    def read_path(self, path: str) -> bytes:
        """The content of the file at ``path``."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a file exists at ``path``."""

    @instance_list
    @abstractmethod
    def list(self, path: str = "") -> list[str]:
        """The paths of every file under ``path`` (recursively), sorted. On the class,
        ``list()`` lists the saved blocks of the type instead."""


class WritableFileSystem(ReadableFileSystem, ABC):
    """A place files can be read from and written to."""

    @abstractmethod
    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to ``path`` (creating parent folders), replacing any file there;
        returns where it was written."""

    def delete_path(self, path: str) -> None:
        """Delete the file at ``path``, if there is one (a rolled-back transaction's results).
        Storage types written before this method existed cannot, and say so."""
        raise BlockError(
            f"{type(self).__name__} cannot delete files: it has no delete_path method; "
            f"{path!r} stays where it is."
        )


class LocalFileSystem(WritableFileSystem):
    """Files in a folder on this machine. Paths that would leave the folder (``..``, an
    absolute path elsewhere, a symlink pointing out) are refused."""

    _documentation_url = "https://plait.dev/docs/blocks#standard-blocks"
    _code_example = """
        from plait.blocks import LocalFileSystem

        fs = LocalFileSystem(basepath="/data/exports")
        fs.write_path("daily/2026-11-24.csv", b"id,value\\n1,2\\n")
        print(fs.read_path("daily/2026-11-24.csv"))
    """

    basepath: str

    @field_validator("basepath")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a folder path, e.g. '/data/exports' or '~/plait-files'")
        return str(Path(value).expanduser().resolve())

    def _resolve(self, path: str) -> Path:
        base = Path(self.basepath)
        target = (base / path).resolve()
        if not target.is_relative_to(base):
            raise BlockError(
                f"Path {path!r} leaves the base path {self.basepath} of this LocalFileSystem; "
                "use a path inside it."
            )
        return target

    def read_path(self, path: str) -> bytes:
        target = self._resolve(path)
        if not target.is_file():
            raise FileNotFoundError(f"No file {path!r} in {self.basepath}")
        return target.read_bytes()

    def write_path(self, path: str, content: bytes) -> str:
        """Write atomically: a reader sees the old file or the new one, never half of it."""
        target = self._resolve(path)
        if target == Path(self.basepath):
            raise BlockError(f"Path {path!r} is the base path itself; give a file name.")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=_PARTIAL)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return str(target)

    def exists(self, path: str) -> bool:
        return self._resolve(path).is_file()

    def delete_path(self, path: str) -> None:
        self._resolve(path).unlink(missing_ok=True)

    @instance_list
    def list(self, path: str = "") -> list[str]:
        base = Path(self.basepath)
        root = self._resolve(path)
        if root.is_file():
            return [root.relative_to(base).as_posix()]
        files = (p for p in root.rglob("*") if p.is_file() and not p.name.endswith(_PARTIAL))
        return sorted(p.relative_to(base).as_posix() for p in files)
