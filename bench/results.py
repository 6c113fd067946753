"""Results and caching: what a cache hit, a persisted result and persisting cost.

    uv run python bench/results.py [--repeat N]

- Cache hit, end to end: a task with ``cache_policy="inputs"`` called N times with the same
  input inside one flow, after an earlier call computed and persisted its result. Each hit
  looks the key up in the run store, checks the stored file exists, reads and unpickles it,
  and records a task run (Pending, Cached) that the background writer saves. Compared with
  the same task uncached (``persist_result=False``).
- Persisting a 1 MB result (``bytes``, CSV-like text) with each serializer, with and
  without compression, to the default result storage (a ``LocalFileSystem`` under
  ``$PLAIT_HOME/results``): serialize plus an atomic file write, and reading it back. The
  same path is overwritten each time, so the disk does not fill up.
- Serializing only (``CloudpickleSerializer().dumps``, no storage), per value: an int, 100
  dict rows, 1,000 small pydantic models (objects the pickler looks up in its dispatch table,
  where secrets are noticed), and the 100 rows plus one ``SecretStr`` (encrypted).
- Task-call overhead for a tiny result (an int), N calls with distinct inputs in one flow:
  ``persist_result=False``; ``persist_result=True`` without caching (``cache_policy=
  "no_cache"``: one result file per run); ``persist_result=True`` with the default cache
  policy (a result file, the key's lock and its cache record in the run store).

Per-call times in flows are marginal: (time of a flow making 1 + N calls - time of the same
flow making 1 call) / N, each flow timed whole, including the final flush of the run store,
so the background writer's work is in the figure. Measured in a fresh ``PLAIT_HOME`` on the
default SQLite store with ``PLAIT_LOGGING_LEVEL=WARNING``; best of ``--repeat`` rounds after
a warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import tempfile
from collections.abc import Callable

from timing import best

CALLS = 500  # task calls per flow
WRITES = 10  # 1 MB results written (and read) per round
SIZE = 1 << 20


def per_task_call(task_, inputs: Callable[[int], int], repeat: int) -> float:
    """Marginal seconds per call of ``task_`` in a flow (see the module docstring)."""
    from plait import flow

    @flow
    def calls(n: int) -> None:
        for i in range(n + 1):
            task_(inputs(i))

    return (best(lambda: calls(CALLS), repeat) - best(lambda: calls(0), repeat)) / CALLS


def payload() -> bytes:
    """1 MB of CSV-like rows: text that compresses as real data does, not random bytes."""
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    rows, size, i = [], 0, 0
    while size < SIZE:
        row = f"{i},{rng.randrange(10**9)},{rng.choice(words)},{rng.random():.6f}\n"
        rows.append(row)
        size += len(row)
        i += 1
    return "".join(rows).encode()[:SIZE]


def persist_rows(repeat: int) -> list[str]:
    from plait.results import ResultOptions

    value = payload()
    rows = []
    specs = ["cloudpickle", "cloudpickle+gzip", "pickle", "pickle+gzip", "pickle+zlib",
             "pickle+bz2", "pickle+lzma", "json", "json+gzip"]  # fmt: skip
    for spec in specs:
        options = ResultOptions(True, None, spec, f"bench {spec}")
        ref = options.write(value, f"bench/{spec}")
        assert ref.load() == value
        stored = len(ref.storage_object.read_path(ref.path))

        def write(options=options, spec=spec) -> None:
            for _ in range(WRITES):
                options.write(value, f"bench/{spec}")

        def read(ref=ref) -> None:
            for _ in range(WRITES):
                ref.load()

        write_ms = best(write, repeat) / WRITES * 1e3
        read_ms = best(read, repeat) / WRITES * 1e3
        rows.append(f"| `{spec}` | {stored / SIZE:.2f} MB | {write_ms:.2f} ms | {read_ms:.2f} ms |")
    return rows


def dumps_rows(repeat: int) -> list[str]:
    from pydantic import BaseModel, SecretStr

    from plait.serializers import CloudpickleSerializer

    class Point(BaseModel):
        x: float
        label: str

    rows = [{"id": i, "name": f"row {i}", "score": i / 7} for i in range(100)]
    values = {
        "an int": 42,
        "100 dict rows": rows,
        "1,000 pydantic models": [Point(x=i, label=str(i)) for i in range(1000)],
        "100 dict rows + a `SecretStr`": [*rows, {"token": SecretStr("s3cr3t")}],
    }
    serializer = CloudpickleSerializer()
    out = []
    for label, value in values.items():
        seconds = best(lambda value=value: [serializer.dumps(value) for _ in range(100)], repeat)
        header = serializer.dumps(value).split(b"\n")[0].decode()
        out.append(f"| {label} | `{header}` | {seconds / 100 * 1e6:.1f} µs |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["PLAIT_HOME"] = tempfile.mkdtemp(prefix="plait-bench-results-")
    os.environ["PLAIT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PLAIT_DATABASE_URL", None)

    from plait import task

    @task(cache_policy="inputs")
    def cached_square(x: int) -> int:
        return x * x

    @task(persist_result=False)
    def plain_square(x: int) -> int:
        return x * x

    @task(persist_result=True, cache_policy="no_cache")
    def persisted_square(x: int) -> int:
        return x * x

    @task(persist_result=True)
    def keyed_square(x: int) -> int:
        return x * x

    def same(i: int) -> int:
        return 7

    def distinct(i: int) -> int:
        return i

    hit = per_task_call(cached_square, same, args.repeat)
    uncached = per_task_call(plain_square, same, args.repeat)
    tiny = {
        "`persist_result=False`": per_task_call(plain_square, distinct, args.repeat),
        '`persist_result=True, cache_policy="no_cache"` (result file only)': per_task_call(
            persisted_square, distinct, args.repeat
        ),
        "`persist_result=True` (default policy: result file, key lock, cache record)": (
            per_task_call(keyed_square, distinct, args.repeat)
        ),
    }
    persisted = persist_rows(args.repeat)
    dumped = dumps_rows(args.repeat)

    print(
        f"# {platform.machine()}, CPython {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, best of {args.repeat}; flows of 1 + {CALLS} "
        f"task calls, {WRITES} results of 1 MB per round"
    )
    print('\n| cache hit (`cache_policy="inputs"`), end to end | time per call |')
    print("|---|---:|")
    print(f"| cache hit | {hit * 1e3:.3f} ms |")
    print(f"| same task uncached (`persist_result=False`) | {uncached * 1e3:.3f} ms |")
    print(f"| **hit overhead over an uncached call** | {(hit - uncached) * 1e3:.3f} ms |")
    print("\n| 1 MB `bytes` result, `result_serializer` | stored | write | read back |")
    print("|---|---:|---:|---:|")
    print("\n".join(persisted))
    print("\n| `CloudpickleSerializer().dumps`, value | written as | time per value |")
    print("|---|---|---:|")
    print("\n".join(dumped))
    base = tiny["`persist_result=False`"]
    print("\n| task call, tiny result | time per call | over `persist_result=False` |")
    print("|---|---:|---:|")
    for label, seconds in tiny.items():
        print(f"| {label} | {seconds * 1e3:.3f} ms | {(seconds - base) * 1e3:+.3f} ms |")


if __name__ == "__main__":
    main()
