"""Client mode against embedded: what reporting to the API server costs, in one run.

    uv run python bench/server.py [--repeat N] [--no-postgres]

- ``sequential``: a flow of 1,000 no-op tasks called one after another, best of ``--repeat``
  after a warm-up, in a fresh subprocess per mode: ``embedded`` (the default SQLite store in
  a fresh ``$PLAIT_HOME``) and ``client`` (``PLAIT_API_URL`` to a ``plait server start`` over
  its own SQLite store). Per-task overhead is (time - plain loop) / 1,000; the flow's end
  waits for its last batch to be saved, in both modes.
- ``map``: a 10,000-task ``.map`` in client mode, and how many of its task runs the server
  holds the moment the flow returns (read through the API).
- ``ingest``: events saved per second by one server process, on SQLite and on PostgreSQL
  (a throwaway cluster, as the tests start it): the journal of a 25,000-task flow, recorded
  in memory first, sent as ``POST /api/events`` batches of 5,000 events from two senders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from timing import best

ROOT = Path(__file__).resolve().parent.parent
PLAIT = str(Path(sys.executable).with_name("plait"))
N_SEQUENTIAL, N_MAP, N_INGEST, BATCH = 1_000, 10_000, 25_000, 5_000


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [PLAIT, "server", "start", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    url = server.stdout.readline().split()[3]
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/health").raise_for_status()
            return server, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(60)


def workload(name: str, repeat: int) -> dict:
    """Runs in the subprocess."""
    from plait import flow, task

    @task
    def noop(x: int) -> int:
        return x

    if name == "plain":
        plain = lambda: [(lambda x: x)(i) for i in range(N_SEQUENTIAL)]  # noqa: E731
        return {"seconds": best(plain, repeat)}
    if name == "sequential":

        @flow
        def sequential() -> None:
            for i in range(N_SEQUENTIAL):
                noop(i)

        return {"seconds": best(sequential, repeat)}

    @flow
    def mapped() -> int:
        return len(noop.map(range(N_MAP)).result())

    started = time.perf_counter()
    mapped()
    seconds = time.perf_counter() - started
    from plait.client import get_client

    client = get_client()
    [run] = client.read_flow_runs(limit=1)
    return {"seconds": seconds, "on_server": client.summarize_task_runs(run.id, limit=1).total}


def _in_subprocess(name: str, env: dict[str, str], repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--workload", name, "--repeat", str(repeat)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _recorded_batches() -> list[bytes]:
    """The journal of a 25,000-task flow as request bodies of 5,000 events."""
    from plait import flow, task
    from plait.journal import MemoryRecorder, set_recorder
    from plait.journal.http import batch_body
    from plait.journal.process import ProcessIdentity
    from plait.journal.shipping import Batch

    @task
    def noop(x: int) -> int:
        return x

    @flow
    def big() -> None:
        for i in range(N_INGEST):
            noop(i)

    memory = MemoryRecorder()
    set_recorder(memory)
    big()
    events, me = memory.events, ProcessIdentity.current()
    return [
        batch_body(Batch(str(uuid.uuid4()), events[i : i + BATCH]), me)
        for i in range(0, len(events), BATCH)
    ]


def ingest(env: dict[str, str], bodies: list[bytes]) -> dict:
    server, url = _start_server(env)
    try:
        queue = list(bodies)
        lock = threading.Lock()

        def send() -> None:
            with httpx.Client(base_url=url, timeout=120) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop(0)
                    answer = http.post(
                        "/events", content=body, headers={"Content-Type": "application/json"}
                    )
                    answer.raise_for_status()

        senders = [threading.Thread(target=send) for _ in range(2)]
        started = time.perf_counter()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        seconds = time.perf_counter() - started
    finally:
        _stop(server)
    events = sum(len(json.loads(body)["events"]) for body in bodies)
    return {"events": events, "seconds": seconds, "per_second": events / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workload")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.workload:
        print(json.dumps(workload(args.workload, args.repeat)))
        return

    with tempfile.TemporaryDirectory() as scratch:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        server_env = {**base, "PLAIT_HOME": f"{scratch}/server"}
        embedded_env = {**base, "PLAIT_HOME": f"{scratch}/embedded"}
        server, url = _start_server(server_env)
        try:
            client_env = {**base, "PLAIT_HOME": f"{scratch}/client", "PLAIT_API_URL": url}
            plain = _in_subprocess("plain", embedded_env, args.repeat)["seconds"]
            embedded = _in_subprocess("sequential", embedded_env, args.repeat)["seconds"]
            client = _in_subprocess("sequential", client_env, args.repeat)["seconds"]
            mapped = _in_subprocess("map", client_env, 1)
        finally:
            _stop(server)
        bodies = _recorded_batches()
        results = {"sqlite": ingest({**base, "PLAIT_HOME": f"{scratch}/ingest"}, bodies)}
        if not args.no_postgres:
            sys.path.insert(0, str(ROOT / "tests"))
            from fixtures.postgres import PostgresServer

            postgres = PostgresServer()
            postgres.start()
            try:
                pg_env = {**base, "PLAIT_HOME": f"{scratch}/pg",
                          "PLAIT_DATABASE_URL": postgres.create_database()}  # fmt: skip
                results["postgresql"] = ingest(pg_env, bodies)
            finally:
                postgres.stop()

    def per_task(seconds: float) -> float:
        return (seconds - plain) / N_SEQUENTIAL * 1e6

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"sequential {N_SEQUENTIAL:,} tasks, best of {args.repeat}:")
    print(f"  embedded  {embedded * 1e3:8.1f} ms   {per_task(embedded):6.1f} µs/task")
    print(f"  client    {client * 1e3:8.1f} ms   {per_task(client):6.1f} µs/task"
          f"   ({per_task(client) / per_task(embedded):.2f}x embedded)")  # fmt: skip
    print(f"map {N_MAP:,} tasks in client mode: {mapped['seconds']:.2f} s, "
          f"{mapped['on_server']:,} task runs on the server when the flow returned")  # fmt: skip
    for store, result in results.items():
        print(f"ingest on {store}: {result['events']:,} events in {result['seconds']:.2f} s "
              f"= {result['per_second']:,.0f} events/s")  # fmt: skip


if __name__ == "__main__":
    main()
