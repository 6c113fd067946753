"""One scheduler pass over 1,000 deployments with 7 days of hourly runs ahead.

    uv run python bench/scheduler.py [--deployments N] [--no-postgres]

For each store (the embedded SQLite file in a fresh ``$PLAIT_HOME``, and PostgreSQL on a
throwaway cluster, as the tests start it): save N deployments of an hourly cron, then time
the pass that creates their 168 runs each (N x 168 Scheduled runs), the pass right after it
(nothing new to create), and one an hour later (one new run per deployment); and the
database's size. Targets: under 5 s for the first pass, under 0.2 s for the idle one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)  # a fixed clock: the same runs every time
RUNS, HORIZON = 168, timedelta(days=7)

sys.path.insert(0, str(ROOT / "bench"))  # the deployments' flow is importable from here


def _size(url: str) -> int:
    import sqlalchemy as sa

    from plait.store.database import open_database

    database = open_database(url)
    if database.is_sqlite:
        return Path(database.engine.url.database).stat().st_size
    with database.reading() as connection:
        return connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()


def run(label: str, deployments: int, database_url: str | None) -> dict:
    from scheduler_flow import hourly

    from plait.backend import close_backends
    from plait.client import get_client
    from plait.scheduler import schedule_deployments

    close_backends()
    if database_url:
        os.environ["PLAIT_DATABASE_URL"] = database_url
    client = get_client()
    for i in range(deployments):
        client.save_deployment(hourly.to_deployment(f"hourly-{i:04d}", cron=f"{i % 60} * * * *"))
    timings = {}
    for name, now in (("first", NOW), ("idle", NOW), ("an hour later", NOW + timedelta(hours=1))):
        started = time.perf_counter()
        created = schedule_deployments(client, now, RUNS, HORIZON)
        timings[name] = (time.perf_counter() - started, created)
    from plait.settings import load_settings

    size = _size(load_settings().resolved_database_url())
    print(f"{label}: {deployments:,} deployments, {client.describe()}")
    for name, (seconds, created) in timings.items():
        print(f"  {name:<14} {seconds:7.3f} s  {created:>9,} runs created")
    print(f"  database size  {size / 2**20:7.1f} MiB")
    os.environ.pop("PLAIT_DATABASE_URL", None)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", type=int, default=1_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as home:
        os.environ["PLAIT_HOME"] = home
        run("sqlite", args.deployments, None)
        if not args.no_postgres:
            sys.path.insert(0, str(ROOT / "tests"))
            from fixtures.postgres import PostgresServer

            postgres = PostgresServer()
            postgres.start()
            try:
                run("postgresql", args.deployments, postgres.create_database())
            finally:
                postgres.stop()


if __name__ == "__main__":
    main()
