"""A dbt project on disk, and the profile to run it with."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import Field

from plait.blocks import Block
from plait_dbt.errors import DbtError
from plait_dbt.profiles import DOCS, DbtCliProfile


class DbtProject(Block):
    """A dbt project (the directory holding ``dbt_project.yml``) and its profile: a
    ``DbtCliProfile`` block, a directory holding a ``profiles.yml``, or None for dbt's own
    lookup (``DBT_PROFILES_DIR``, then the current directory, then ``~/.dbt``)."""

    _documentation_url = DOCS
    _code_example = """
        from plait_dbt import DbtCliProfile, DbtProject, run_dbt

        DbtProject(project_dir="/code/shop", profiles=DbtCliProfile.load("shop-prod")).save("shop")
        run_dbt(DbtProject.load("shop"), select="tag:daily")
    """

    project_dir: Path = Field(description="The directory holding dbt_project.yml.")
    profiles: DbtCliProfile | Path | None = Field(
        default=None,
        description="A DbtCliProfile block, or a directory holding profiles.yml; by default "
        "dbt looks for profiles.yml itself (DBT_PROFILES_DIR, the current directory, ~/.dbt).",
    )
    target: str | None = Field(default=None, description="The target to use (dbt's --target).")

    def check_project_dir(self) -> Path:
        """The project directory, resolved; a clear error if it holds no ``dbt_project.yml``."""
        directory = self.project_dir.expanduser().resolve()
        if not (directory / "dbt_project.yml").is_file():
            raise DbtError(
                f"DbtProject.project_dir: {str(directory)!r} holds no dbt_project.yml; give the "
                "directory of a dbt project (where `dbt init` put dbt_project.yml)."
            )
        return directory

    def target_path(self) -> Path:
        """Where dbt writes ``run_results.json`` and ``manifest.json`` for this project."""
        import yaml

        directory = self.check_project_dir()
        configured = yaml.safe_load((directory / "dbt_project.yml").read_text()) or {}
        configured_path = configured.get("target-path", "target")
        return directory / os.environ.get("DBT_TARGET_PATH", configured_path)

    @contextmanager
    def cli_args(self) -> Iterator[list[str]]:
        """The arguments that point dbt at this project and its profile (a temporary
        ``profiles.yml`` written from the block, deleted on exit)."""
        args = ["--project-dir", str(self.check_project_dir())]
        if self.target is not None:
            args += ["--target", self.target]
        if isinstance(self.profiles, DbtCliProfile):
            with self.profiles.written() as directory:
                yield [*args, "--profiles-dir", str(directory)]
            return
        if self.profiles is not None:
            directory = self.profiles.expanduser().resolve()
            if not (directory / "profiles.yml").is_file():
                raise DbtError(
                    f"DbtProject.profiles: {str(directory)!r} holds no profiles.yml; give the "
                    "directory that holds it, or a DbtCliProfile block."
                )
            args += ["--profiles-dir", str(directory)]
        yield args
