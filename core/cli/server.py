"""``plait server``: run the API server (``plait.server``) over the configured store."""

from __future__ import annotations

import ipaddress
import signal
import socket
from typing import Annotated

import typer

from plait.cli.render import console
from plait.exceptions import ConfigError

app = typer.Typer(help="Run the API server.", no_args_is_help=True)

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
    """A socket bound to ``host:port`` (port 0: any free one), or a clear error."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        raise ConfigError(
            f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
            "another port (--port), or stop what is using it."
        ) from None
    return listener


@app.command("start")
def start(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 4300,
    insecure: Annotated[
        bool, typer.Option(help="Allow listening beyond this machine without API keys.")
    ] = False,
) -> None:
    """Serve the API over the configured store (migrated first) until SIGTERM or Ctrl-C,
    which let in-flight requests finish."""
    if not (is_loopback(host) or insecure):
        raise ConfigError(
            f"--host {host} would let other machines use the API, and no API keys are set "
            "up: keep the default 127.0.0.1, or pass --insecure to accept that risk."
        )
    import uvicorn

    from plait.backend import get_backend
    from plait.server import create_app

    backend = get_backend()
    backend.upgrade()
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
    if not is_loopback(host):
        console.print("Warning: the API is open to other machines without API keys (--insecure).")
    # uvicorn stops gracefully on these, then raises them again to whatever handled them
    # before: ignoring them then makes a requested stop exit 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_IGN)
    uvicorn.Server(config).run(sockets=[listener])
