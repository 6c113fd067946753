"""``plait server``: run the API server (``plait.server``) over the configured store."""

from __future__ import annotations

import ipaddress
import signal
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from plait.backend.api_keys import Scope
from plait.cli.render import Output, OutputOption, console, format_time, print_json, print_table
from plait.exceptions import ConfigError

if TYPE_CHECKING:
    from plait.backend import Backend

app = typer.Typer(help="Run the API server, and manage its API keys.", no_args_is_help=True)
api_key = typer.Typer(help="API keys: who may use the server, and for what.", no_args_is_help=True)
app.add_typer(api_key, name="api-key")

GRACE_SECONDS = 30  # in-flight requests this long to finish after SIGTERM or Ctrl-C


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free one), or a clear error. It is made
    as a TCP socket by name (``IPPROTO_TCP``), which is what makes asyncio send each answer
    at once (TCP_NODELAY) on the connections it accepts, instead of 40 ms later."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        raise ConfigError(
            f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
            "another port (--port), or stop what is using it."
        ) from None
    return listener


def _store() -> Backend:
    """The run store the server serves (in client mode too: it is the server's)."""
    from plait.backend import open_store_backend
    from plait.settings import load_settings

    return open_store_backend(load_settings())


@app.command("start")
def start(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 4300,
    insecure: Annotated[
        bool, typer.Option(help="Allow listening beyond this machine without API keys.")
    ] = False,
) -> None:
    """Serve the API over the configured store (migrated first) until SIGTERM or Ctrl-C,
    which let in-flight requests finish. Once an API key exists, every request needs one."""
    import uvicorn

    from plait.server import create_app

    backend = _store()
    backend.upgrade()
    keyed = backend.api_keys().any_created()
    if not (is_loopback(host) or keyed or insecure):
        raise ConfigError(
            f"--host {host} would let other machines use the API, and no API keys are set "
            "up: create one (plait server api-key create NAME --scope write), keep the "
            "default 127.0.0.1, or pass --insecure to accept that risk."
        )
    listener = listen(host, port)
    bound_host, bound_port = listener.getsockname()[:2]
    config = uvicorn.Config(
        create_app(backend),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    console.print(
        f"Plait server at http://{bound_host}:{bound_port}/api (docs at /docs), serving "
        f"{backend.describe()}",
        soft_wrap=True,
    )
    if not (is_loopback(host) or keyed):
        console.print("Warning: the API is open to other machines without API keys (--insecure).")
    # uvicorn stops gracefully on these, then raises them again to whatever handled them
    # before: ignoring them then makes a requested stop exit 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_IGN)
    uvicorn.Server(config).run(sockets=[listener])


@api_key.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. ci-reporter.")],
    scope: Annotated[Scope, typer.Option(help="read, write (includes read) or admin.")],
) -> None:
    """Create an API key. It is shown once: the store keeps only a slow hash of it."""
    record, token = _store().api_keys().create(name, scope)
    console.print(f"API key {record.name!r} ({record.scope}) created. It is shown only now:")
    console.print(token, soft_wrap=True, markup=False)
    console.print("Send it as: Authorization: Bearer <key> (PLAIT_API_KEY for Plait's client).")


@api_key.command("ls")
def list_keys(output: OutputOption = Output.TABLE) -> None:
    """Every API key with its scope, and when it was created or revoked (never the key)."""
    from rich.table import Table

    records = _store().api_keys().list()
    if output is Output.JSON:
        print_json({"api_keys": records})
        return
    table = Table("Name", "Scope", "Created", "Revoked", box=None)
    for record in records:
        table.add_row(record.name, record.scope, format_time(record.created),
                      format_time(record.revoked) if record.revoked else "-")  # fmt: skip
    print_table(table, whole=("Name",))


@api_key.command("revoke")
def revoke_key(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke an API key: the server refuses it from the next request on."""
    record = _store().api_keys().revoke(name)
    console.print(f"API key {record.name!r} revoked at {format_time(record.revoked)}.")
