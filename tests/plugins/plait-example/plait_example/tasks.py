"""The example integration's prebuilt tasks."""

from __future__ import annotations

from plait import task
from plait_example.blocks import ExampleBucket


@task
def upload_text(bucket: ExampleBucket, path: str, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` in ``bucket``; returns where it was written."""
    return bucket.write_path(path, text.encode())
