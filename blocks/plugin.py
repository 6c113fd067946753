"""Plait's standard blocks, registered through the same hooks as any integration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from plait.hookspecs import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait.blocks import DatabaseCredentials, Email, LocalFileSystem, Secret, Webhook

    return [Secret, DatabaseCredentials, LocalFileSystem, Webhook, Email]


@hookimpl
def plait_result_storage() -> dict[str, Callable[[str], Any]]:
    return {"file": local_file_system_at}


def local_file_system_at(url: str) -> Any:
    """``file:///data/results`` as a ``LocalFileSystem``."""
    from plait.blocks import LocalFileSystem

    return LocalFileSystem(basepath=unquote(urlparse(url).path))


@hookimpl
def plait_load_block(name: str) -> Any:
    from plait.blocks import Block

    return Block.load(name)


@hookimpl
def plait_cli(app: Any) -> None:
    from plait.blocks.cli import app as block_app

    app.add_typer(block_app, name="block")
