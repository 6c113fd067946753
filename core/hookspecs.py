"""Plait's hook specifications: the reference for plugin authors.

A plugin is a module (or object) with functions named after these hooks and marked with
``@plait.hookimpl``. An installed distribution registers it through the ``plait`` entry-point
group::

    # pyproject.toml of plait-aws
    [project.entry-points.plait]
    aws = "plait_aws.plugin"

    # plait_aws/plugin.py
    from plait import hookimpl

    @hookimpl
    def plait_block_types():
        return [AwsCredentials, S3Bucket]

Every hook is optional; a plugin implements only what it provides. Plait's own standard
blocks register through these same hooks (``plait.blocks.plugin``). Each hook returns a
value; Plait calls each plugin's implementation separately, so one plugin that raises is
reported (once, with its name) and the others still work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from plait.flows import Flow
    from plait.task_runners import TaskRunner
    from plait.tasks import Task

PROJECT = "plait"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def plait_block_types() -> Sequence[type]:
    """The block classes (subclasses of ``plait.blocks.Block``) this plugin provides.

    They become loadable by slug (``Block.load("aws-credentials/prod")``), are listed by
    ``plait block types`` and ``plait plugins ls``, and can be created with
    ``plait block create``. Interfaces (abstract classes) are not listed here.
    """


@hookspec
def plait_tasks() -> Sequence[Task | Flow]:
    """The prebuilt tasks (``@plait.task`` objects, or ``@plait.flow`` objects for work made of
    many task runs, like plait-dbt's ``run_dbt``) this plugin provides, for discovery:
    ``plait plugins ls`` lists them. Users import them from the plugin's package as usual."""


@hookspec
def plait_result_storage() -> Mapping[str, Callable[[str], Any]]:
    """URL schemes this plugin can store task results under, each mapped to a factory.

    ``{"s3": factory}`` makes ``result_storage="s3://bucket/prefix"`` work: the factory
    receives the whole URL and returns a ``plait.blocks.WritableFileSystem`` rooted there.
    Plait itself registers ``file``.
    """


@hookspec
def plait_load_block(name: str) -> Any:
    """Load the saved block ``name`` (``"slug/name"``), or return None if this plugin does
    not provide block storage. Plait's own blocks implement it; it lets the engine resolve
    ``result_storage="local-file-system/results"`` without importing ``plait.blocks``."""


@hookspec
def plait_task_runners() -> Mapping[str, type[TaskRunner]]:
    """Task runner classes this plugin provides, by short name (e.g. ``{"dask": DaskTaskRunner}``):
    ``plait plugins ls`` lists them, and ``@flow(task_runner="dask")`` builds one with its
    default settings."""


@hookspec
def plait_cli(app: typer.Typer) -> None:
    """Add commands to the ``plait`` command line: ``app.add_typer(my_app, name="aws")``.

    Called once when the CLI starts. Import heavy modules inside the commands, not at the
    top of the plugin module, so ``plait --help`` stays fast.
    """
