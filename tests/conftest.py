"""Shared fixtures: every test gets its own journal and its own PLAIT_HOME; store tests get a
fresh run store on SQLite and on a real PostgreSQL server in turn."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from fixtures import example_plugin

from plait.journal import MemoryRecorder, set_recorder

# CLI output is checked as text: give the console one width in every process (the console
# reads COLUMNS once, when plait.cli is imported; pytest-xdist workers have no terminal).
os.environ["COLUMNS"] = "220"

if TYPE_CHECKING:
    from plait.client import Client
    from plait.store.writer import StoreRecorder

# tests/ is on sys.path: pytest puts conftest dirs there
example_plugin.install()  # before any test asks Plait for its plugins

pytest_plugins = [
    "fixtures.servers",  # first: fixtures.gcp imports its helpers
    "fixtures.api",
    "fixtures.aws",
    "fixtures.dbt",
    "fixtures.gcp",
    "fixtures.postgres",
    "fixtures.slack",
    "fixtures.snowflake",
    "fixtures.runs",
    "pytester",
]


@pytest.fixture(autouse=True)
def recorder(tmp_path, monkeypatch) -> MemoryRecorder:
    """A fresh in-memory journal, so each test sees only the runs it made."""
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
    monkeypatch.delenv("PLAIT_ENCRYPTION_KEY", raising=False)
    fresh = MemoryRecorder()
    previous = set_recorder(fresh)
    yield fresh
    set_recorder(previous)


def _runner_params():
    from plait import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    return [
        pytest.param(lambda: ThreadPoolTaskRunner(max_workers=4), id="threads"),
        pytest.param(lambda: ProcessPoolTaskRunner(max_workers=2), id="processes"),
        pytest.param(_dask_runner, id="dask"),
    ]


def _dask_runner():
    from fixtures.runs import DASK_CLUSTER

    from plait_dask.runner import DaskTaskRunner

    return DaskTaskRunner(cluster_kwargs=DASK_CLUSTER)


@pytest.fixture(params=_runner_params())
def task_runner(request):
    """Each task runner in turn: behaviour tests must hold for every one of them."""
    return request.param()


@dataclass
class Store:
    """The run store a test records into, and reads back through the client."""

    url: str
    writer: StoreRecorder
    client: Client


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, recorder, monkeypatch) -> str:
    """A fresh, empty run-store database, configured as the process's store: the default
    SQLite file in PLAIT_HOME, or a new database on the session's PostgreSQL server. Child
    processes inherit the configuration through the environment."""
    from plait.settings import load_settings
    from plait.store.database import close_databases

    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database()
        monkeypatch.setenv("PLAIT_DATABASE_URL", url)
    else:
        url = load_settings().resolved_database_url()
    yield url
    close_databases()


@pytest.fixture
def store(store_url) -> Store:
    """The run store, recording this test's runs in the background like in production."""
    from plait.client import get_client
    from plait.settings import load_settings
    from plait.store.writer import StoreRecorder

    writer = StoreRecorder.open(load_settings())
    previous = set_recorder(writer)
    yield Store(store_url, writer, get_client())
    writer.close()
    set_recorder(previous)
