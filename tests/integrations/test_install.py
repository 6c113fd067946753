"""Each integration installed the way a user installs it: built from its source into a fresh
virtual environment, next to plait, then found by ``plait plugins ls`` and ``plait block
types`` (offline: see ``fixtures/install.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.install import ROOT, find_uv, row, venv_with_plait


@dataclass(frozen=True)
class Integration:
    name: str  # the folder under integrations/ and the plugin's name
    package: str
    module: str
    slugs: tuple[str, ...]  # its block types
    tasks: tuple[str, ...]
    scheme: str | None  # the result storage URL scheme it registers, if any

    def __str__(self) -> str:
        return self.name


INTEGRATIONS = [
    Integration(
        "aws",
        "plait-aws",
        "plait_aws",
        ("aws-credentials", "s3-bucket", "aws-secret"),
        (
            *("s3_upload", "s3_download", "s3_list_objects", "s3_copy", "s3_move", "s3_delete"),
            *("read_secret", "update_secret"),
        ),
        "s3",
    ),
    Integration(
        "gcp",
        "plait-gcp",
        "plait_gcp",
        ("gcp-credentials", "gcs-bucket"),
        ("gcs_upload", "gcs_download", "gcs_list_blobs", "gcs_copy", "gcs_delete"),
        "gs",
    ),
    Integration(
        "snowflake",
        "plait-snowflake",
        "plait_snowflake",
        ("snowflake-credentials", "snowflake-connector"),
        ("snowflake_query", "snowflake_multiquery", "snowflake_query_pandas"),
        None,
    ),
    Integration(
        "dbt",
        "plait-dbt",
        "plait_dbt",
        ("dbt-project", "dbt-cli-profile", "duckdb-target-configs", "postgres-target-configs"),
        ("run_dbt",),
        None,
    ),
    Integration(
        "slack",
        "plait-slack",
        "plait_slack",
        ("slack-credentials", "slack-webhook"),
        ("send_chat_message", "send_incoming_webhook_message", "upload_file"),
        None,
    ),
    Integration("dask", "plait-dask", "plait_dask", (), (), None),  # its runner: "dask"
]


@pytest.fixture(scope="module")
def uv() -> list[str]:
    command = find_uv()
    if command is None:
        pytest.skip("uv is not installed (make test installs it)")
    return command


@pytest.mark.parametrize("integration", INTEGRATIONS, ids=str)
def test_an_integration_installs_from_source_and_registers_its_plugin(
    uv: list[str], tmp_path, integration: Integration
):
    venv = venv_with_plait(uv, integration.package, tmp_path)

    # Negative control: plait alone knows only its standard blocks.
    plugins = venv.plait("plugins", "ls")
    types = venv.plait("block", "types")
    assert "standard-blocks" in plugins
    assert "secret" in types
    for name in (integration.name, integration.package, *integration.slugs, *integration.tasks):
        assert name not in plugins
    for name in (integration.package, *integration.slugs):
        assert name not in types

    venv.install_integration(integration.name, tmp_path)  # and its requirements are met

    plugins = venv.plait("plugins", "ls")
    plugin = row(plugins, integration.name)
    assert plugin.split()[1:3] == [integration.package, "0.1.0"], plugins
    assert plugin.rstrip().endswith("ok"), plugins
    for name in (*integration.slugs, *integration.tasks, integration.scheme or ""):
        assert name in plugins, f"{name!r} missing from plait plugins ls:\n{plugins}"
    assert "failed" not in plugins

    types = venv.plait("block", "types")
    for slug in integration.slugs:
        assert integration.package in row(types, slug), types
    assert "plait" in row(types, "secret").split()

    # Installed, not imported from the working tree.
    where = venv.import_paths("plait", integration.module)
    assert str(ROOT) not in " ".join(where)
    assert all(path.startswith(str(venv.path)) for path in where)
    typed = [Path(path).parent / "py.typed" for path in where]
    assert all(marker.is_file() for marker in typed), f"PEP 561 markers missing: {typed}"
