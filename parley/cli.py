"""The ``parley`` command: migrate, serve, run (everything, for development), token.

Every failure the user can fix (a bad setting, a service that does not answer,
a port in use) is one line on stderr, ``error: <SETTING>: …``, and exit code 1.
The heavy modules (Litestar, asyncpg, nats, uvicorn) are imported by the
commands that use them, so ``parley token`` and ``parley --help`` start fast.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import click

from commands.auth import issue_token
from commands.model import Role
from parley.cli_attachments import attachments
from parley.cli_cluster import cluster
from parley.cli_events import events
from parley.cli_privacy import privacy
from parley.cli_projections import projections
from parley.cli_replay import replay
from parley.logs import configure as configure_logging
from parley.logs import json_logs
from parley.process import (
    database_url,
    err,
    fail,
    load_settings,
    nats_url,
    one_line_errors,
    out,
    stoppable,
)

RUN_TOKEN_TTL = timedelta(hours=24)
LOG_LEVELS = click.Choice(["critical", "error", "warning", "info", "debug"])
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match or int(match[1]) == 0:
        raise click.BadParameter("expected a positive duration such as 90s, 30m, 1h or 7d")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


@click.group()
@click.version_option(package_name="parley")
def main() -> None:
    """Parley: an event-sourced backend for customer-support conversations.

    Settings come from PARLEY_* environment variables (see README.md).
    """
    configure_logging(logging.INFO if json_logs() else logging.WARNING)


@main.command()
def migrate() -> None:
    """Apply the pending database migrations.

    Uses PARLEY_DATABASE_URL; when it is unset, the embedded PostgreSQL under
    PARLEY_DATA_DIR (the database `parley run` uses) is started, migrated and
    stopped again.
    """
    from parley.server import run_async
    from parley.services import migrate as apply_migrations
    from parley.services import redact

    settings = load_settings()
    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        applied = run_async(lambda: apply_migrations(url))
    if not applied:
        out.print(f"{redact(url)} is up to date: no migration to apply")
        return
    out.print(f"applied {len(applied)} migration(s) to {redact(url)}:")
    for name in applied:
        out.print(f"  [green]✓[/] {name}")


@main.command()
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
def serve(log_level: str) -> None:
    """Serve the HTTP API on PARLEY_HTTP_HOST:PARLEY_HTTP_PORT.

    Needs PARLEY_DATABASE_URL (migrated with `parley migrate`) and
    PARLEY_NATS_URL. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from parley.runner import serve_app
    from parley.server import http_address, listen, run_async

    settings = load_settings()
    database, nats = settings.database_url, settings.nats_url
    if not database or not nats:
        missing = "PARLEY_DATABASE_URL" if not database else "PARLEY_NATS_URL"
        fail(f"{missing} is not set: parley serve needs it (parley run starts embedded services)")

    def started() -> None:
        out.print(f"Parley serving on {http_address(settings.http_host, settings.http_port)}")
        if settings.uses_dev_jwt_secret:
            err.print("[yellow]warning:[/] PARLEY_JWT_SECRET is not set; tokens use the dev secret")
        if settings.master_key is None:
            err.print(
                "[yellow]warning:[/] PARLEY_MASTER_KEY is not set; personal data is sealed with "
                f"a key generated into {settings.data_dir.resolve() / 'master.key'}"
            )

    with one_line_errors(), stoppable(), listen(settings.http_host, settings.http_port) as sock:
        run_async(
            lambda: serve_app(
                settings, sock, database, nats, log_level=log_level, on_started=started
            )
        )


@main.command()
@click.option("--log-level", type=LOG_LEVELS, default="warning", show_default=True)
def run(log_level: str) -> None:
    """Run the whole system for development.

    Starts an embedded PostgreSQL and nats-server (data under PARLEY_DATA_DIR)
    for whichever of PARLEY_DATABASE_URL / PARLEY_NATS_URL is unset, migrates,
    serves HTTP, runs the relay, projections and router, and prints an admin token.
    An embedded server that dies is started again on the same socket or port
    and data (with back-off; logged). Ctrl-C stops everything.
    """
    from parley.runner import print_banner, serve_app
    from parley.server import listen, run_async

    settings = load_settings()
    now = datetime.now(UTC)
    token = issue_token(
        settings.jwt_secret, sub="dev-admin", role=Role.ADMIN, ttl=RUN_TOKEN_TTL, now=now
    )
    with (
        one_line_errors(),
        stoppable() as stack,
        listen(settings.http_host, settings.http_port) as sock,
    ):
        database, nats = database_url(settings, stack), nats_url(settings, stack)

        def started() -> None:
            print_banner(out, settings, database, nats, token, RUN_TOKEN_TTL)

        run_async(
            lambda: serve_app(
                settings,
                sock,
                database,
                nats,
                migrate_first=True,
                with_workers=True,
                log_level=log_level,
                on_started=started,
                dev_sign_in=True,
            )
        )
    out.print("Parley stopped.")


@main.command()
def worker() -> None:
    """Run the relay (log -> JetStream) and every projection.

    Needs PARLEY_DATABASE_URL and PARLEY_NATS_URL. Several workers may run:
    one relay leads at a time, projections take turns batch by batch.
    Stops cleanly on Ctrl-C or SIGTERM.
    """
    from parley.runner import work
    from parley.server import run_async

    settings = load_settings()
    database, nats = settings.database_url, settings.nats_url
    if not database or not nats:
        missing = "PARLEY_DATABASE_URL" if not database else "PARLEY_NATS_URL"
        fail(f"{missing} is not set: parley worker needs it")
    with one_line_errors(), stoppable():
        out.print("Parley worker running (relay, projections and router)")
        run_async(lambda: work(settings, database, nats))


@main.command()
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--sub", required=True, help="The actor id the token names.")
@click.option("--client-id", help="The client the token acts for (required with --role client).")
@click.option(
    "--ttl", default="1h", show_default=True, callback=parse_ttl, help="Validity: 90s, 30m, 1h, 7d."
)
def token(role: str, sub: str, client_id: str | None, ttl: timedelta) -> None:
    """Print an access token (a JWT signed with PARLEY_JWT_SECRET)."""
    settings = load_settings()
    try:
        jwt = issue_token(
            settings.jwt_secret,
            sub=sub,
            role=Role(role),
            client_id=client_id,
            ttl=ttl,
            now=datetime.now(UTC),
        )
    except ValueError as error:
        fail(str(error))
    click.echo(jwt)


main.add_command(events)
main.add_command(projections)
main.add_command(replay)
main.add_command(attachments)
main.add_command(privacy)
main.add_command(cluster)
