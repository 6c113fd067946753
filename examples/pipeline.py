"""The demo pipeline (``make demo``): extract orders, transform them in parallel chunks
(one chunk's first attempt fails, as a flaky service would, and is retried), combine and
load the result to local files, then show the recorded runs and saved blocks with the
``plait`` CLI.

Runs are recorded in the run store (``$PLAIT_HOME/plait.db``). Output goes through a saved
``LocalFileSystem`` block, ``demo-output`` (``$PLAIT_HOME/demo``), and the rates service's
API key is a saved ``Secret`` block, encrypted at rest (``~/.plait`` by default).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from plait import flow, get_run_context, get_run_logger, task, unmapped
from plait.blocks import LocalFileSystem, Secret
from plait.client import get_client
from plait.settings import load_settings

OUTPUT = load_settings().home / "demo"
RATES_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05}
FLAKY_CHUNK = 3


@task
def extract(day: date, n_orders: int) -> list[dict]:
    """Stand-in for an API or database read: deterministic orders for the day."""
    rng = random.Random(day.toordinal())
    countries = {"EUR": "DE", "USD": "US", "GBP": "GB", "CHF": "CH"}
    orders = []
    for number in range(n_orders):
        currency = rng.choice(list(RATES_TO_EUR))
        orders.append(
            {
                "order_id": f"{day:%Y%m%d}-{number:05d}",
                "country": countries[currency],
                "currency": currency,
                "amount": round(rng.uniform(5, 500), 2),
                "quantity": rng.randint(1, 5),
            }
        )
    return orders


@task(retries=2, retry_delay_seconds=[0.2, 1.0])
def transform(chunk: list[dict], chunk_index: int, api_key: Secret) -> list[dict]:
    """Convert to EUR and compute totals; chunk 3 fails once, like a flaky rate service
    (which would be called with ``api_key.get()``)."""
    if not api_key.get():
        raise ValueError("the rates service needs an API key")
    if chunk_index == FLAKY_CHUNK and get_run_context().task_run.run_count == 1:
        raise ConnectionError("exchange-rate service timed out (simulated)")
    return [
        {
            **order,
            "total_eur": round(
                order["amount"] * order["quantity"] * RATES_TO_EUR[order["currency"]], 2
            ),
        }
        for order in chunk
    ]


@task
def combine(chunks: list[list[dict]]) -> list[dict]:
    return [row for chunk in chunks for row in chunk]


@task
def summarize(rows: list[dict], day: date) -> dict:
    by_country = Counter()
    for row in rows:
        by_country[row["country"]] += round(row["total_eur"], 2)
    return {"day": str(day), "orders": len(rows), "eur_by_country": dict(by_country)}


@task
def load(rows: list[dict] | dict, storage: LocalFileSystem, path: str) -> str:
    """Write rows as JSON lines (atomically: a reader never sees half a file)."""
    lines = rows if isinstance(rows, list) else [rows]
    return storage.write_path(path, "".join(json.dumps(row) + "\n" for row in lines).encode())


@flow(log_prints=True, flow_run_name="daily-orders-{day}")
def daily_orders(day: date, n_orders: int = 5_000, chunk_size: int = 500) -> dict:
    storage = LocalFileSystem.load("demo-output")
    api_key = Secret.load("rates-api-key")  # masked in logs and in the recorded parameters
    orders = extract(day, n_orders)
    chunks = [orders[i : i + chunk_size] for i in range(0, len(orders), chunk_size)]
    transformed = transform.map(chunks, range(len(chunks)), unmapped(api_key))
    rows = combine.submit(transformed)  # waits for every chunk: edges in the task graph
    written = load.submit(rows, storage, f"orders-{day}.jsonl")
    summary = summarize.submit(rows, day)
    load.submit(summary, storage, f"summary-{day}.json").wait()
    get_run_logger().info("Wrote %d orders to %s", len(rows.result()), written.result())
    total = sum(summary.result()["eur_by_country"].values())
    print(f"Revenue on {day}: {total:,.2f} EUR over {len(chunks)} chunks")
    return summary.result()


def save_blocks() -> None:
    """Save the demo's blocks the first time (usually done once, with ``plait block create``)."""
    if "demo-output" not in LocalFileSystem.list():
        LocalFileSystem(basepath=str(OUTPUT)).save("demo-output")
    if "rates-api-key" not in Secret.list():
        Secret(value="demo-rates-key-4f9a").save("rates-api-key")


def show_with_the_cli(flow_run_id: str) -> None:
    """Run the CLI commands a user would, to look at what was recorded."""
    plait = shutil.which("plait", path=str(Path(sys.executable).parent)) or "plait"
    for args in (
        ["flow-run", "ls", "--limit", "3"],
        ["flow-run", "inspect", flow_run_id[:13]],
        ["flow-run", "inspect", flow_run_id[:13], "--graph"],
        ["flow-run", "logs", flow_run_id[:13]],
        ["block", "ls"],
        ["block", "inspect", "secret/rates-api-key"],
    ):
        print(f"\n$ plait {' '.join(args)}", flush=True)
        subprocess.run([plait, *args], check=True)


if __name__ == "__main__":
    save_blocks()
    daily_orders("2026-11-24")  # a string: validated and coerced to a date by the type hint
    [latest] = get_client().read_flow_runs(flow_name="daily_orders", limit=1)
    show_with_the_cli(latest.id)
