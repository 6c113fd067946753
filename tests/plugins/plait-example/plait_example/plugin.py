"""Registers the example integration with Plait (entry point ``example`` in the ``plait``
group). Imports happen inside the hooks, so loading the plugin stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_example.blocks import ExampleBucket, ExampleCredentials

    return [ExampleCredentials, ExampleBucket]


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_example.tasks import upload_text

    return [upload_text]


@hookimpl
def plait_result_storage() -> dict[str, Callable[[str], Any]]:
    return {"example": example_bucket_at}


def example_bucket_at(url: str) -> Any:
    """``example://CREDENTIALS/folder/path``: an ExampleBucket on ``/folder/path``, with the
    saved ExampleCredentials block named ``CREDENTIALS``."""
    from plait_example.blocks import ExampleBucket, ExampleCredentials

    parts = urlparse(url)
    if parts.scheme != "example" or not parts.netloc or not parts.path.strip("/"):
        raise ValueError(
            f"{url!r} is not an example:// result storage URL; use "
            "example://CREDENTIALS-BLOCK-NAME/folder/path"
        )
    return ExampleBucket(
        folder=unquote(parts.path), credentials=ExampleCredentials.load(parts.netloc)
    )


@hookimpl
def plait_task_runners() -> dict[str, type]:
    from plait import ThreadPoolTaskRunner

    return {"example-threads": ThreadPoolTaskRunner}


@hookimpl
def plait_cli(app: Any) -> None:
    import typer

    example_app = typer.Typer(help="The example integration.", no_args_is_help=True)

    @example_app.callback()
    def example() -> None:
        """Commands of the plait-example integration."""

    @example_app.command()
    def hello(name: str = typer.Argument("world", help="Who to greet.")) -> None:
        """Greet NAME, to show plugin commands work."""
        from importlib.metadata import version

        typer.echo(f"Hello, {name}! (plait-example {version('plait-example')})")

    app.add_typer(example_app, name="example")
