"""The async life of ``parley serve`` and ``parley run``: connect, (migrate),
build the app, serve until a signal, close everything in reverse order."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import timedelta

from rich.console import Console
from rich.markup import escape

from parley.app import create_app
from parley.master_key import KEY_FILE, check_master_key, master_key
from parley.server import STOP_SIGNALS, Shutdown, http_address, serve
from parley.services import SERVER_POOL_SIZE, migrate, open_services, redact
from parley.settings import Settings
from parley.web import WEB_DIST, web_routes
from parley.worker import pool_size as workers_pool_size
from parley.worker import run_workers


async def serve_app(
    settings: Settings,
    sock: socket.socket,
    database_url: str,
    nats_url: str,
    *,
    migrate_first: bool = False,
    with_workers: bool = False,
    log_level: str = "info",
    on_started: Callable[[], None] | None = None,
    dev_sign_in: bool = False,
) -> None:
    """Serve Parley on ``sock`` until SIGINT or SIGTERM (and, ``with_workers``,
    run the relay and projections beside it). A signal before the server is up
    cancels the startup; either way everything opened is closed. The web
    client is served at ``/``; ``dev_sign_in`` (``parley run`` only) lets it
    ask for an admin token."""
    with Shutdown().installed() as shutdown:
        try:
            if migrate_first:
                await migrate(database_url)
            pool_size = SERVER_POOL_SIZE + (workers_pool_size() if with_workers else 0)
            async with open_services(database_url, nats_url, pool_size=pool_size) as services:
                await check_master_key(services.pool, master_key(settings))
                web = web_routes(settings.jwt_secret, dev_sign_in=dev_sign_in)
                app = create_app(
                    settings, pool=services.pool, nats=services.nats, route_handlers=web
                )
                stop_workers = asyncio.Event()
                workers = asyncio.create_task(
                    run_workers(settings, services.pool, services.nats, stop_workers)
                    if with_workers
                    else stop_workers.wait()
                )
                try:
                    started = await serve(
                        app,
                        sock,
                        shutdown,
                        log_level=log_level,
                        access_log=log_level in ("info", "debug"),
                        on_started=on_started,
                    )
                finally:
                    stop_workers.set()
                    await workers
                if not started and not shutdown.requested:
                    raise RuntimeError("the HTTP server did not start (see the log above)")
        except asyncio.CancelledError:
            if not shutdown.requested:
                raise


async def work(settings: Settings, database_url: str, nats_url: str) -> None:
    """Run the relay and every projection until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_services(database_url, nats_url, pool_size=workers_pool_size()) as services:
            await check_master_key(services.pool, master_key(settings))
            await run_workers(settings, services.pool, services.nats, stop)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def print_banner(
    console: Console,
    settings: Settings,
    database_url: str,
    nats_url: str,
    token: str,
    token_ttl: timedelta,
) -> None:
    """What ``parley run`` prints once it answers: where, with what, and a token."""
    address = http_address(settings.http_host, settings.http_port)
    data_dir = settings.data_dir.resolve()
    if settings.database_url:
        database = redact(database_url)
    else:
        database = f"embedded, data in {data_dir / 'postgres'}"
    if settings.nats_url:
        nats = redact(nats_url)
    else:
        nats = f"embedded at {nats_url}, data in {data_dir / 'nats'}"
    built = (WEB_DIST / "index.html").is_file()
    rows = {
        "HTTP": f"{address}  (readiness: /health/ready, OpenAPI: /schema)",
        "web client": f"{address}/  (dev sign-in on)"
        if built
        else "not built: run `make web` (needs Node.js 20+); the API is served",
        "PostgreSQL": database,
        "NATS": nats,
        "admin token": f"{token}  (valid {token_ttl.total_seconds() / 3600:g} h)",
    }
    if settings.master_key is None:
        rows["master key"] = (
            f"{data_dir / KEY_FILE}  (generated: set PARLEY_MASTER_KEY in production)"
        )
    console.print("[bold green]Parley is running[/]")
    for label, value in rows.items():
        console.print(f"  [bold]{label:<12}[/] {escape(value)}")
    console.print("Press Ctrl-C to stop.")
    console.file.flush()
