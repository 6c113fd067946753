"""The architecture holds: imports point the way pyproject.toml's contracts say, and the
diagram in docs/architecture.md is the one the code's imports draw.

Both checks run in a subprocess, as ``make lint`` and a developer run them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def run(command: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_import_contract_is_kept():
    result = run([LINT_IMPORTS, "--no-logo", "--no-cache"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_that_points_the_wrong_way_breaks_its_contract(tmp_path):
    package = tmp_path / "wrongway"
    for path, source in {
        "__init__.py": "",
        "store/__init__.py": "ROWS = []\n",
        "engine/__init__.py": "",
        "engine/runs.py": "from wrongway.store import ROWS\n",
    }.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(source)
    config = tmp_path / "contracts.toml"
    config.write_text(
        textwrap.dedent("""\
            [tool.importlinter]
            root_packages = ["wrongway"]

            [[tool.importlinter.contracts]]
            name = "The engine does not import the store"
            type = "forbidden"
            source_modules = ["wrongway.engine"]
            forbidden_modules = ["wrongway.store"]
        """)
    )

    result = run([LINT_IMPORTS, "--no-logo", "--no-cache", str(config)], cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "wrongway.engine is not allowed to import wrongway.store" in result.stdout
    assert "wrongway.engine.runs -> wrongway.store (l.1)" in result.stdout
    assert "0 kept, 1 broken" in result.stdout


def test_the_committed_diagram_is_drawn_from_the_current_imports():
    result = run([sys.executable, str(ROOT / "scripts" / "architecture_diagram.py"), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr  # says which script to run
