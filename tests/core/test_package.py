"""The installed package: its command line, and that ``import plait`` stays light."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from fixtures.runs import modules_loaded_by
from typer.testing import CliRunner

import plait
import plait.blocks
from plait.cli import app


def test_plait_version_prints_plait_and_python_versions():
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert (
        result.output.strip() == f"plait {plait.__version__} (Python {platform.python_version()})"
    )


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "plait"
    result = subprocess.run([script, "version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith(f"plait {plait.__version__}")


STORE = ("sqlalchemy", "alembic", "cryptography", "httpx", "pluggy")
HEAVY = ("pydantic", "pydantic_settings", "rich", "typer", "cloudpickle", "multiprocessing", *STORE)


def test_import_plait_loads_no_heavy_modules():
    assert modules_loaded_by("import plait", HEAVY) == []


def test_import_plait_blocks_loads_no_store_encryption_or_http_modules():
    assert modules_loaded_by("import plait.blocks", STORE) == []


def test_hookimpl_is_exported_lazily():
    from plait.hookspecs import hookimpl

    assert plait.hookimpl is hookimpl


def test_the_blocks_package_is_importable_from_its_own_folder():
    assert plait.blocks.__file__.replace("\\", "/").endswith("blocks/__init__.py")


def test_the_cli_starts_without_the_store_or_encryption_modules():
    """Commands that do not read the store (version, --help, block types, plugins ls) should
    not pay for importing SQLAlchemy."""
    assert modules_loaded_by("import plait.cli", ("sqlalchemy", "alembic", "cryptography")) == []


def test_the_example_plugin_of_the_tests_is_not_in_the_users_environment():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    plait_cli = Path(sys.executable).with_name("plait")
    listed = subprocess.run(
        [str(plait_cli), "--help"], capture_output=True, text=True, env=env, check=True
    )
    assert "example" not in listed.stdout
    assert "plugin" in listed.stdout  # the command list is there, without the test's plugin
    assert "example" in CliRunner().invoke(app, ["--help"]).output  # the tests install it
