"""Saved blocks: how long saving and loading take on the default store.

    uv run python bench/blocks.py [--repeat N]

A flow typically loads a few blocks when it starts (credentials, a bucket holding them), so
the figure that matters is one ``load`` of a block with a nested, referenced credentials
block: two documents read, their secrets decrypted, both validated. Measured in a fresh
``PLAIT_HOME`` with the store already migrated; best of ``--repeat`` rounds of 200 calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import tempfile
import time


def best_per_call(fn, calls: int, repeat: int) -> float:
    """The best mean time of one call, over ``repeat`` rounds of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["PLAIT_HOME"] = tempfile.mkdtemp(prefix="plait-bench-blocks-")

    from pydantic import SecretStr

    from plait.blocks import Block, CredentialsBlock, LocalFileSystem, Secret
    from plait.blocks.block import CheckResult

    class BenchCredentials(CredentialsBlock):
        """Credentials."""

        key_id: str
        secret_key: SecretStr

        def check(self) -> CheckResult:
            return CheckResult(True, "ok", 0.0)

    class BenchBucket(Block):
        """A bucket holding saved credentials."""

        bucket: str
        credentials: BenchCredentials

    BenchCredentials(key_id="AKIA", secret_key="s3cr3t").save("prod")
    BenchBucket(bucket="raw", credentials=BenchCredentials.load("prod")).save("raw")
    Secret(value="token").save("token")
    LocalFileSystem(basepath=tempfile.gettempdir()).save("tmp")
    counter = iter(range(10**9))

    def save_secret() -> None:
        Secret(value=f"v{next(counter)}").save("token", overwrite=True)

    rows = [
        ("Secret.load (one document, one secret)", lambda: Secret.load("token")),
        ("LocalFileSystem.load (no secrets)", lambda: LocalFileSystem.load("tmp")),
        ("BenchBucket.load (nested, referenced credentials)", lambda: BenchBucket.load("raw")),
        ("Block.load (dispatch by slug, nested)", lambda: Block.load("bench-bucket/raw")),
        ("Secret.save (a new version each time)", save_secret),
    ]
    print(
        f"# {platform.machine()}, CPython {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, best of {args.repeat} x 200 calls"
    )
    print("| operation | time per call |\n|---|---:|")
    for label, fn in rows:
        print(f"| {label} | {best_per_call(fn, 200, args.repeat) * 1e3:.2f} ms |")


if __name__ == "__main__":
    main()
