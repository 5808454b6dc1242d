"""``parley cluster up`` / ``down``: Parley scaled out on this machine, for
rehearsals (parley/local_cluster.py, docs/SCALING.md)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from parley.process import fail, out

FOLDER = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".parley/cluster"),
    show_default=True,
    help="Where the servers keep their data and logs.",
)


@click.group()
def cluster() -> None:
    """A NATS cluster, a PostgreSQL primary and replica, two edges behind
    HAProxy and two workers, all on 127.0.0.1."""


@cluster.command()
@FOLDER
def up(folder: Path) -> None:
    """Start the cluster and keep it until Ctrl-C (or `parley cluster down`)."""
    from parley.errors import StartupError
    from parley.local_cluster import LocalCluster

    if (folder / "cluster.json").exists():
        fail(f"a cluster is running from {folder} (parley cluster down --dir {folder})")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running = LocalCluster(folder.resolve())
    try:
        running.up()
        out.print(f"Parley behind HAProxy: {running.url} (logs in {folder}); Ctrl-C stops it")
        while not stop.is_set() and running.balancer is not None and running.balancer.running:
            stop.wait(0.5)
    except StartupError as error:
        fail(str(error))
    finally:
        running.down()


@cluster.command()
@FOLDER
def down(folder: Path) -> None:
    """Stop a cluster that `parley cluster up` left running."""
    from parley.local_cluster import down_from_state

    if not down_from_state(folder.resolve()):
        fail(f"no cluster is running from {folder}")
    out.print(f"stopped the cluster in {folder}")
