"""Check the import contracts (``[tool.importlinter]`` in pyproject.toml) over all of ``plait``.

    .venv/bin/python scripts/lint_imports.py [lint-imports options] [CONFIG_FILES]

Run it from the repository root; it takes ``lint-imports``' options and exits as it does.

A bare ``lint-imports`` cannot check ``plait``: grimp, which builds import-linter's graph,
reads a package's modules from the one folder it is imported from, and ``plait.blocks`` is not
in ``core/`` but in ``blocks/`` (the package-dir mapping in pyproject.toml). Its contracts would
stop at "Module 'plait.blocks' does not exist", and every import of ``plait.blocks`` would be
invisible. So this script lays out the packages as the import system sees them, in a temporary
folder of links (``plait/`` → the entries of ``core/``, ``plait/blocks/`` → those of
``blocks/``), puts it first on ``sys.path`` and runs ``lint-imports`` there.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def plait_on_path() -> Iterator[Path]:
    """``plait`` as one tree of links, first on ``sys.path`` while the context lasts; yields
    the tree's ``plait`` folder."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dirs = pyproject["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="plait-imports-") as tree:
        for package, folder in sorted(package_dirs.items()):  # a package before its children
            target = Path(tree, *package.split("."))
            target.mkdir()
            for entry in (ROOT / folder).iterdir():
                (target / entry.name).symlink_to(entry)
        sys.path.insert(0, tree)
        try:
            yield Path(tree, "plait")
        finally:
            sys.path.remove(tree)


def main() -> None:
    from importlinter.cli import lint_imports_command

    with plait_on_path():
        # The tree is new on every run, so import-linter's cache would only grow.
        lint_imports_command(["--no-cache", *sys.argv[1:]], prog_name="lint-imports")


if __name__ == "__main__":
    main()
