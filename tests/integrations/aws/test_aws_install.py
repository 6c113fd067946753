"""plait-aws installed the way a user installs it: built from its source into a fresh virtual
environment, next to plait, then found by ``plait plugins ls`` and ``plait block types``.

Runs offline. The dependencies (pydantic, boto3, ...) are installed from uv's cache at the
versions in ``uv.lock`` (``uv sync --frozen --offline``; ``make test`` fills the cache), with
no workspace member; plait and plait-aws are then built from copies of their source folders
and installed as wheels with ``uv pip install --no-deps``, as ``pip install`` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
AWS_SLUGS = ("aws-credentials", "s3-bucket", "aws-secret")
AWS_TASKS = (
    "s3_upload",
    "s3_download",
    "s3_list_objects",
    "s3_copy",
    "s3_move",
    "s3_delete",
    "read_secret",
    "update_secret",
)
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*")


def find_uv() -> list[str] | None:
    """A command that runs uv: the ``uv`` module of this interpreter or of the one that made
    this environment (``python3 -m uv``, as the Makefile runs it), or ``uv`` on PATH."""
    candidates = [
        [sys.executable, "-m", "uv"],
        [getattr(sys, "_base_executable", sys.executable), "-m", "uv"],
        [shutil.which("python3") or "python3", "-m", "uv"],
        [shutil.which("uv") or "uv"],
    ]
    for command in candidates:
        try:
            found = subprocess.run(
                [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.startswith("uv "):
            return command
    return None


@pytest.fixture(scope="module")
def uv() -> list[str]:
    command = find_uv()
    if command is None:
        pytest.skip("uv is not installed (make test installs it)")
    return command


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without what points at the project's own .venv."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    }
    env.update(extra)
    return env


def run(command: Sequence[str | Path], **extra_env: str) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=clean_environment(**extra_env),
        cwd=ROOT,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {result.returncode}:\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def copy_plait_source(target: Path) -> Path:
    """The ``plait`` distribution's source (a copy: building writes build/ and egg-info)."""
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for folder in ("core", "blocks"):
        shutil.copytree(ROOT / folder, target / folder, ignore=IGNORED)
    return target


def line_of(output: str, first_cell: str) -> str:
    """The table row whose first cell is ``first_cell``."""
    for line in output.splitlines():
        if line.split()[:1] == [first_cell]:
            return line
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def test_plait_aws_installs_from_source_and_registers_its_plugin(uv, tmp_path):
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    plait = venv / "bin" / "plait"
    cli_env = {"PLAIT_HOME": str(tmp_path / "plait-home"), "COLUMNS": "200", "NO_COLOR": "1"}

    # The dependencies of plait and plait-aws, at the locked versions, from uv's cache.
    run(
        [
            *uv,
            "sync",
            "--frozen",
            "--offline",
            "--no-dev",
            "--package",
            "plait-aws",
            "--no-install-workspace",
            "--python",
            sys.executable,
        ],
        UV_PROJECT_ENVIRONMENT=str(venv),
    )
    install = [*uv, "pip", "install", "--python", python, "--offline", "--no-deps", "--no-sources"]
    run([*install, copy_plait_source(tmp_path / "src" / "plait")])

    # Negative control: plait alone knows only its standard blocks.
    plugins = run([plait, "plugins", "ls"], **cli_env)
    types = run([plait, "block", "types"], **cli_env)
    assert "standard-blocks" in plugins
    assert "secret" in types
    for name in ("aws", "plait-aws", *AWS_SLUGS, *AWS_TASKS):
        assert name not in plugins
    for name in ("plait-aws", *AWS_SLUGS):
        assert name not in types

    aws_source = tmp_path / "src" / "aws"
    shutil.copytree(ROOT / "integrations" / "aws", aws_source, ignore=IGNORED)
    run([*install, aws_source])
    run([*uv, "pip", "check", "--python", python])  # plait-aws's requirements are met

    plugins = run([plait, "plugins", "ls"], **cli_env)
    row = line_of(plugins, "aws")
    assert row.split()[1:3] == ["plait-aws", "0.1.0"], plugins
    assert row.rstrip().endswith("ok"), plugins
    for name in (*AWS_SLUGS, *AWS_TASKS, "s3"):
        assert name in plugins, f"{name!r} missing from plait plugins ls:\n{plugins}"
    assert "failed" not in plugins

    types = run([plait, "block", "types"], **cli_env)
    for slug in AWS_SLUGS:
        assert "plait-aws" in line_of(types, slug), types
    assert "plait" in line_of(types, "secret").split()

    # Installed, not imported from the working tree.
    where = run(
        [python, "-c", "import plait, plait_aws; print(plait.__file__, plait_aws.__file__)"]
    )
    assert str(ROOT) not in where
    assert all(path.startswith(str(venv)) for path in where.split())
