"""The demo pipeline (``make demo``): extract orders, transform them in parallel chunks
(one chunk's first attempt fails, as a flaky service would, and is retried), load the result
to local files, and print a summary of the runs.

Output goes to ``$PLAIT_HOME/demo`` (``~/.plait/demo`` by default).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from plait import flow, get_run_context, get_run_logger, task
from plait.journal import get_recorder

OUTPUT = Path(os.environ.get("PLAIT_HOME", Path.home() / ".plait")) / "demo"
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
def transform(chunk: list[dict], chunk_index: int) -> list[dict]:
    """Convert to EUR and compute totals; chunk 3 fails once, like a flaky rate service."""
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
def load(rows: list[dict], path: Path) -> Path:
    """Write rows as JSON lines, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows))
    partial.replace(path)
    return path


@flow(log_prints=True, flow_run_name="daily-orders-{day}")
def daily_orders(day: date, n_orders: int = 5_000, chunk_size: int = 500) -> dict:
    orders = extract(day, n_orders)
    chunks = [orders[i : i + chunk_size] for i in range(0, len(orders), chunk_size)]
    transformed = transform.map(chunks, range(len(chunks)))
    rows = [row for rows in transformed.result() for row in rows]
    path = load(rows, OUTPUT / f"orders-{day}.jsonl")
    by_country = Counter()
    for row in rows:
        by_country[row["country"]] += row["total_eur"]
    summary = {"day": str(day), "orders": len(rows), "eur_by_country": dict(by_country)}
    load([summary], OUTPUT / f"summary-{day}.json")
    get_run_logger().info("Wrote %d orders to %s", len(rows), path)
    print(f"Revenue on {day}: {sum(by_country.values()):,.2f} EUR over {len(chunks)} chunks")
    return summary


def show_runs() -> None:
    """Print every run the journal recorded: state, attempts, duration, and why it retried."""
    table = Table(title="Runs recorded by the demo")
    for column in ("run", "kind", "state", "attempts", "ms", "retried because"):
        table.add_column(column, justify="right" if column in ("attempts", "ms") else "left")
    for run in get_recorder().runs():
        duration = f"{run.duration * 1000:.1f}" if run.duration is not None else "-"
        retries = [s.message or "" for s in run.states if s.state == "Retrying"]
        table.add_row(
            run.name, run.kind, run.state, str(run.run_count), duration, "; ".join(retries)
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    daily_orders("2026-11-24")  # a string: validated and coerced to a date by the type hint
    show_runs()
