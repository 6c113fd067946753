"""Profiles from blocks: the temporary profiles.yml and what it holds, saved credentials used
by a real dbt run on PostgreSQL without their secrets left on disk, and the conformance kit."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
import yaml
from fixtures.dbt import FAILING_TEST, PG_PASSWORD, postgres_credentials, query
from fixtures.files import files_in
from fixtures.runs import modules_loaded_by

from plait.blocks import DatabaseCredentials
from plait.client import get_client
from plait.testing import BlockConformance
from plait_dbt import (
    DbtCliProfile,
    DbtError,
    DbtProject,
    DuckDBTargetConfigs,
    PostgresTargetConfigs,
    SnowflakeTargetConfigs,
    run_dbt,
)
from plait_snowflake import SnowflakeConnector, SnowflakeCredentials

sqlite_store = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

CREDENTIALS = DatabaseCredentials(
    driver="postgresql+psycopg",
    host="db.internal",
    port=6543,
    user="transformer",
    password="conformance-pg-pa55",
    database="warehouse",
    query={"sslmode": "require"},
)
SNOWFLAKE = SnowflakeConnector(
    credentials=SnowflakeCredentials(
        account="myorg-dbt", user="DBT", role="TRANSFORMER", password="sf-pa55word-dbt"
    ),
    database="ANALYTICS",
    schema="MARTS",
    warehouse="TRANSFORMING",
)


def _profile_dirs() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if "plait-dbt-profiles-" in name}


def test_the_profile_is_written_to_a_private_temporary_directory_and_deleted():
    profile = DbtCliProfile(
        name="shop",
        target="prod",
        target_configs=PostgresTargetConfigs(credentials=CREDENTIALS, schema="analytics"),
    )

    with profile.written() as directory:
        path = directory / "profiles.yml"
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert yaml.safe_load(path.read_text()) == {
            "shop": {
                "target": "prod",
                "outputs": {
                    "prod": {
                        "type": "postgres",
                        "host": "db.internal",
                        "port": 6543,
                        "user": "transformer",
                        "password": "conformance-pg-pa55",
                        "dbname": "warehouse",
                        "schema": "analytics",
                        "sslmode": "require",
                        "threads": 4,
                    }
                },
            }
        }
    assert not directory.exists()


@sqlite_store
def test_a_value_that_looks_like_jinja_reaches_dbt_as_written(store, shop_dir, tmp_path):
    database = tmp_path / "{{ braces }}.duckdb"
    profile = DbtCliProfile(
        name="shop", target="dev", target_configs=DuckDBTargetConfigs(path=str(database))
    )

    run_dbt(DbtProject(project_dir=shop_dir, profiles=profile), select="raw_customers")

    assert database.is_file()  # not ".duckdb": dbt did not render {{ braces }} away


def test_saved_credentials_run_dbt_on_postgres_without_leaving_secrets_on_disk(
    store, postgres_server, shop_dir, tmp_path, monkeypatch
):
    temp = tmp_path / "tmp"  # this test's own temporary directory: others may run at once
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    postgres_credentials(postgres_server).save("warehouse")
    target = PostgresTargetConfigs(credentials=DatabaseCredentials.load("warehouse"), schema="mart")
    DbtCliProfile(name="shop", target="prod", target_configs=target).save("shop-prod")
    DbtProject(project_dir=shop_dir, profiles=DbtCliProfile.load("shop-prod")).save("shop")
    before = _profile_dirs()

    result = run_dbt(DbtProject.load("shop"), exclude=FAILING_TEST.split(".")[-1])

    assert result.success
    assert query(target, "select count(*) from {schema}.customer_totals") == [(3,)]
    secret = PG_PASSWORD.encode()
    assert [path for path, data in files_in(tmp_path).items() if secret in data] == []
    assert not (shop_dir / "profiles.yml").exists()
    assert _profile_dirs() == before
    [flow_run] = get_client().read_flow_runs(flow_name="run_dbt")
    assert not [log for log in get_client().read_logs(flow_run.id) if PG_PASSWORD in log.message]
    assert PG_PASSWORD not in str(flow_run.parameters)


@sqlite_store
def test_a_profiles_directory_is_used_as_it_is(store, shop_dir, tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile = {
        "shop": {
            "target": "local",
            "outputs": {"local": {"type": "duckdb", "path": str(tmp_path / "local.duckdb")}},
        }
    }
    (profiles / "profiles.yml").write_text(yaml.safe_dump(profile))

    result = run_dbt(DbtProject(project_dir=shop_dir, profiles=profiles), select="raw_orders")

    assert [node.unique_id for node in result.nodes] == ["seed.shop.raw_orders"]
    assert (tmp_path / "local.duckdb").is_file()


@sqlite_store
def test_a_profiles_directory_without_profiles_yml_is_refused(store, shop_dir, tmp_path):
    with pytest.raises(DbtError, match=r"DbtProject\.profiles: .* holds no profiles\.yml"):
        run_dbt(DbtProject(project_dir=shop_dir, profiles=tmp_path))


def test_postgres_target_configs_need_postgres_credentials():
    mysql = CREDENTIALS.model_copy(update={"driver": "mysql+pymysql"})
    with pytest.raises(ValueError, match=r"credentials\.driver is 'mysql\+pymysql'"):
        PostgresTargetConfigs(credentials=mysql, schema="analytics")
    no_host = CREDENTIALS.model_copy(update={"host": None})
    with pytest.raises(ValueError, match=r"credentials\.host is not set"):
        PostgresTargetConfigs(credentials=no_host, schema="analytics")


def test_jinja_looking_values_are_protected_at_any_depth():
    configs = DuckDBTargetConfigs(
        path="{{ a }}.duckdb", extensions=["{{ b }}"], extras={"settings": {"s": "{% c %}"}}
    )
    profile = DbtCliProfile(name="shop", target="dev", target_configs=configs)

    output = profile.profiles()["shop"]["outputs"]["dev"]

    assert output["path"] == "{% raw %}{{ a }}.duckdb{% endraw %}"
    assert output["extensions"] == ["{% raw %}{{ b }}{% endraw %}"]
    assert output["settings"] == {"s": "{% raw %}{% c %}{% endraw %}"}
    configs.path = "{{ x }}{% endraw %}"
    with pytest.raises(DbtError, match="holds both Jinja markers and 'endraw'"):
        profile.profiles()


def test_a_snowflake_key_pair_reaches_dbt_snowflake_as_a_key_it_reads():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from dbt.adapters.snowflake.auth import private_key_from_string

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-passphrase"),
    ).decode()
    escaped = pem.strip().replace("\n", "\\n")  # as an environment variable holds it
    credentials = SnowflakeCredentials(
        account="a", user="u", private_key=escaped, private_key_passphrase="key-passphrase"
    )
    connector = SNOWFLAKE.model_copy(update={"credentials": credentials})

    settings = SnowflakeTargetConfigs(connector=connector).output()

    assert "private_key_passphrase" not in settings
    loaded = private_key_from_string(settings["private_key"])
    assert loaded.private_numbers() == key.private_numbers()


def test_snowflake_target_configs_log_in_with_the_connector_s_credentials():
    target = SnowflakeTargetConfigs(connector=SNOWFLAKE, threads=8)

    assert target.output() == {
        "type": "snowflake",
        "account": "myorg-dbt",
        "user": "DBT",
        "database": "ANALYTICS",
        "schema": "MARTS",
        "warehouse": "TRANSFORMING",
        "role": "TRANSFORMER",
        "password": "sf-pa55word-dbt",
        "threads": 8,
    }
    assert SnowflakeTargetConfigs(connector=SNOWFLAKE, schema="STAGING").output()["schema"] == (
        "STAGING"
    )
    no_schema = SNOWFLAKE.model_copy(update={"schema_name": None})
    with pytest.raises(ValueError, match="schema is not set here nor on the connector"):
        SnowflakeTargetConfigs(connector=no_schema)


def test_importing_plait_dbt_leaves_dbt_unloaded_until_a_run():
    assert modules_loaded_by("import plait_dbt, plait_dbt.plugin", ("dbt", "yaml")) == []


class TestDbtBlocks(BlockConformance):
    plugin = "dbt"
    examples = [
        DbtProject(project_dir=Path("/code/shop")),
        DbtProject(project_dir=Path("/code/shop"), profiles=Path("/etc/dbt"), target="prod"),
        DbtProject(
            project_dir=Path("/code/shop"),
            profiles=DbtCliProfile(
                name="shop", target="dev", target_configs=DuckDBTargetConfigs(path="shop.duckdb")
            ),
        ),
        DbtCliProfile(
            name="shop",
            target="prod",
            target_configs=PostgresTargetConfigs(credentials=CREDENTIALS, schema="analytics"),
        ),
        DuckDBTargetConfigs(path=":memory:", extensions=["httpfs"], extras={"settings": {}}),
        PostgresTargetConfigs(credentials=CREDENTIALS, schema="analytics", threads=8),
        SnowflakeTargetConfigs(connector=SNOWFLAKE),
    ]
