"""DatabaseCredentials against real databases: the session's PostgreSQL server (which trusts
local connections, so any password connects) and SQLite files. What a user relies on: check()
says where it connected or why it could not, the password never shows, the engine is built
once, and a saved block keeps the password encrypted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures.files import database_bytes
from pydantic import ValidationError

from plait.blocks import DatabaseCredentials

# characters a URL must escape, so that a password in a URL is handled, not pasted
PASSWORD = "W4rehouse:p@ss/word%42"
MASK = "**********"


@pytest.fixture
def warehouse(postgres_server) -> DatabaseCredentials:
    """Credentials for a fresh database on the session's PostgreSQL server."""
    url = sa.make_url(postgres_server.create_database())
    return DatabaseCredentials(
        driver="postgresql+psycopg",
        host=url.host,
        port=url.port,
        user=url.username,
        password=PASSWORD,
        database=url.database,
    )


def changed(credentials: DatabaseCredentials, **fields) -> DatabaseCredentials:
    return DatabaseCredentials(**{**dict(credentials), **fields})


def test_check_connects_to_postgresql_and_says_where(warehouse):
    result = warehouse.check()

    assert result.ok, result.message
    where = f"postgresql+psycopg://plait:***@127.0.0.1:{warehouse.port}/{warehouse.database}"
    assert result.message.startswith("connected to postgresql ")
    assert result.message.endswith(f" at {where}")
    version = result.message.removeprefix("connected to postgresql ").split(" ")[0]
    assert version.split(".")[0].isdigit(), "names the server's version"
    assert result.latency > 0


def test_check_connects_to_a_sqlite_file(tmp_path):
    path = tmp_path / "local.db"
    result = DatabaseCredentials(driver="sqlite", database=str(path)).check()

    assert result.ok, result.message
    assert result.message.startswith("connected to sqlite 3.")
    assert result.message.endswith(f" at sqlite:///{path}")


def test_check_reports_a_refused_connection_without_raising(warehouse, closed_port):
    result = changed(warehouse, port=closed_port).check()

    assert not result.ok
    assert f'connection to server at "127.0.0.1", port {closed_port} failed' in result.message
    assert "Connection refused" in result.message
    assert PASSWORD not in result.message


def test_check_names_a_database_that_does_not_exist(warehouse):
    result = changed(warehouse, database="no_such_warehouse").check()

    assert not result.ok
    assert 'database "no_such_warehouse" does not exist' in result.message


def test_check_names_a_driver_that_is_not_installed():
    result = DatabaseCredentials(driver="postgresql+nosuchdriver", host="127.0.0.1").check()

    assert not result.ok
    assert "Can't load plugin: sqlalchemy.dialects:postgresql.nosuchdriver" in result.message


def test_check_masks_the_password_where_the_server_echoes_it(warehouse):
    pasted_twice = changed(warehouse, user=PASSWORD)  # the password pasted as the user too

    result = pasted_twice.check()

    assert not result.ok
    assert f'FATAL:  role "{MASK}" does not exist' in result.message
    assert PASSWORD not in result.message


def test_the_password_never_shows(warehouse):
    engine = warehouse.get_engine()
    url = warehouse.get_url()
    shown = {
        "repr": repr(warehouse),
        "str": str(warehouse),
        "model_dump_json": warehouse.model_dump_json(),
        "url": str(url),
        "url repr": repr(url),
        "engine": repr(engine),
        "check": warehouse.check().message,
    }
    for what, text in shown.items():
        assert PASSWORD not in text, what
    assert MASK in shown["repr"]
    assert ":***@" in shown["url"]
    assert url.password == PASSWORD, "the URL still carries it, for connecting"


def test_get_engine_connects_and_is_built_once(warehouse, tmp_path):
    engine = warehouse.get_engine()

    assert warehouse.get_engine() is engine
    assert changed(warehouse).get_engine() is engine, "equal credentials share one engine"
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT current_database(), current_user")).one()
    assert tuple(row) == (warehouse.database, "plait")
    other = DatabaseCredentials(driver="sqlite", database=str(tmp_path / "other.db"))
    assert other.get_engine() is not engine
    with other.get_engine().connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1


@pytest.mark.parametrize("driver", ["Postgres", "postgresql+", "postgresql://db", "", "my sql"])
def test_a_bad_driver_name_is_refused_naming_the_field(driver):
    with pytest.raises(ValidationError) as caught:
        DatabaseCredentials(driver=driver, password=PASSWORD)

    message = str(caught.value)
    assert "driver" in message
    assert f"{driver!r} is not a SQLAlchemy driver name" in message
    assert "e.g. 'postgresql+psycopg' or 'sqlite'" in message
    assert PASSWORD not in message


@pytest.mark.parametrize("port", [0, 65536])
def test_a_port_out_of_range_is_refused_naming_the_field(port):
    with pytest.raises(ValidationError, match="port"):
        DatabaseCredentials(driver="postgresql+psycopg", port=port)


def test_saved_credentials_load_and_connect(warehouse, store_url):
    warehouse.save("warehouse")

    loaded = DatabaseCredentials.load("warehouse")

    assert loaded == warehouse
    assert loaded.password.get_secret_value() == PASSWORD
    assert loaded.check().ok
    if store_url.startswith("sqlite"):  # every byte SQLite wrote
        raw = database_bytes()
        assert warehouse.database.encode() in raw, "plain fields are stored as they are"
        assert PASSWORD.encode() not in raw
