"""The ``postgres_server`` fixture: a real PostgreSQL server with one fresh database per call."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def test_each_database_is_a_separate_real_postgresql_database(postgres_server):
    first_url = postgres_server.create_database()
    second_url = postgres_server.create_database()
    assert make_url(first_url).database != make_url(second_url).database

    first = sa.create_engine(first_url)
    second = sa.create_engine(second_url)
    try:
        with first.begin() as conn:
            assert "PostgreSQL" in conn.execute(sa.text("SELECT version()")).scalar_one()
            conn.execute(sa.text("CREATE TABLE only_in_first (id integer PRIMARY KEY)"))
        with second.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        with first.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["only_in_first"]
    finally:
        first.dispose()
        second.dispose()
