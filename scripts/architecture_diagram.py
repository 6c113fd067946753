"""Draw the diagram in docs/architecture.md from plait's imports.

    .venv/bin/python scripts/architecture_diagram.py          # rewrite the diagram
    .venv/bin/python scripts/architecture_diagram.py --check  # exit 1 if it is out of date

One node per part of plait: each subpackage (``plait.engine``, ``plait.blocks``, …) and the
public API (plait's top-level modules) as one node; an arrow ``A --> B`` when a module of A
imports a module of B, anywhere in the module (imports inside functions count). The graph is
the one the import contracts check (``lint-imports``): built by grimp, with the same handling
of ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- diagram:start -->", "<!-- diagram:end -->"
PUBLIC = "public API"


def imports_between_parts() -> tuple[list[str], list[tuple[str, str]]]:
    """The parts of plait, and which part imports which."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    type_checking = pyproject["tool"]["importlinter"]["exclude_type_checking_imports"]
    graph = grimp.build_graph("plait", exclude_type_checking_imports=type_checking, cache_dir=None)
    subpackages = {f"plait.{path.parent.name}" for path in (ROOT / "core").glob("*/__init__.py")}

    def part(module: str) -> str:
        package = ".".join(module.split(".")[:2])
        return package if package in subpackages else PUBLIC

    edges = {
        (part(importer), part(imported))
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
    }
    return sorted(subpackages | {PUBLIC}), sorted((a, b) for a, b in edges if a != b)


def mermaid() -> str:
    parts, edges = imports_between_parts()
    node = {name: name.replace(".", "_").replace(" ", "_") for name in parts}
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'    {node[name]}["{name}"]' for name in parts]
    lines += [f"    {node[importer]} --> {node[imported]}" for importer, imported in edges]
    lines.append("```")
    return "\n".join(lines)


def with_diagram(document: str, diagram: str) -> str:
    """``document`` with ``diagram`` between its markers."""
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not (start and end):
        raise SystemExit(f"{DOC.relative_to(ROOT)} needs the markers {START} and {END}.")
    return f"{head}{START}\n{diagram}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the diagram is stale")
    check = parser.parse_args().check
    document = DOC.read_text()
    updated = with_diagram(document, mermaid())
    if check:
        if updated != document:
            sys.exit(
                f"The diagram in {DOC.relative_to(ROOT)} does not match the code's imports: "
                "run .venv/bin/python scripts/architecture_diagram.py and commit the result."
            )
    elif updated != document:
        DOC.write_text(updated)
        print(f"Updated the diagram in {DOC.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
