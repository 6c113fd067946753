"""Every import the documentation shows works, and so does every name the public packages
list in ``__all__``."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("integrations/*/README.md")]
)

FENCED = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
MODULE = r"plait\w*(?:\.\w+)*"
STATEMENT = re.compile(
    rf"^[ \t]*(from[ \t]+{MODULE}[ \t]+import[ \t]+(?:\([^)]*\)|[^\n#;]+)"
    rf"|import[ \t]+{MODULE}(?:[ \t]*,[ \t]*{MODULE})*)",
    re.M,
)


def documented_imports(markdown: str) -> list[str]:
    """Each name that the code in ``markdown`` (fenced blocks and inline code) imports from
    Plait or an integration, as a one-name import statement, sorted."""
    code = [*FENCED.findall(markdown), *INLINE.findall(FENCED.sub("", markdown))]
    found = set()
    for snippet in code:
        for statement in STATEMENT.findall(snippet):
            try:
                node = ast.parse(statement.strip()).body[0]
            except SyntaxError:  # kept whole: running it reports the error, with its document
                found.add(statement.strip())
                continue
            if isinstance(node, ast.ImportFrom):
                found |= {f"from {node.module} import {alias.name}" for alias in node.names}
            else:
                found |= {f"import {alias.name}" for alias in node.names}
    return sorted(found)


def import_error(statement: str) -> str | None:
    """Why ``statement`` fails, or None when it works."""
    try:
        exec(statement, {})
    except Exception as exc:  # an import can fail with anything its module raises
        return f"{type(exc).__name__}: {exc}"
    return None


def test_imports_are_found_in_code_blocks_and_inline_code():
    markdown = """
Use `from plait import flow` or `plait.task`, not from plait import prose.

```python
from plait import (
    task,
    Completed as Done,
)
import plait.blocks, plait_aws
from os import path
```

    ```python
    from plait_dbt import run_dbt  # indented, in a list
    ```
"""
    assert documented_imports(markdown) == [
        "from plait import Completed",
        "from plait import flow",
        "from plait import task",
        "from plait_dbt import run_dbt",
        "import plait.blocks",
        "import plait_aws",
    ]


def test_every_import_in_the_docs_works():
    failures = [
        f"{document.relative_to(ROOT)}: {statement}  ({error})"
        for document in DOCUMENTS
        for statement in documented_imports(document.read_text())
        if (error := import_error(statement)) is not None
    ]
    assert not failures, "Imports shown in the docs that fail:\n" + "\n".join(failures)


def public_packages() -> list[str]:
    """``plait``, ``plait.blocks``, and the package of every installed plugin."""
    plugins = importlib.metadata.entry_points(group="plait")
    return sorted({"plait", "plait.blocks"} | {plugin.module.split(".")[0] for plugin in plugins})


@pytest.mark.parametrize("package", public_packages())
def test_every_name_in_all_imports(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not have: {missing}"
