"""The installed package: its command line, and that ``import plait`` stays light."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

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


HEAVY = ("pydantic", "pydantic_settings", "rich", "typer", "cloudpickle", "sqlalchemy", "alembic",
         "multiprocessing")  # fmt: skip


def test_import_plait_loads_no_heavy_modules():
    code = (
        "import sys, json, plait; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout) == []


def test_the_blocks_package_is_importable_from_its_own_folder():
    assert plait.blocks.__file__.replace("\\", "/").endswith("blocks/__init__.py")
