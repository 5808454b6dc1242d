"""What every benchmark script shares: options, processes, CPU, percentiles,
tables and the facts a report starts with."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
T = TypeVar("T")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- options --------------------------------------------------------------------------


def parser(
    prog: str, description: str, nats: bool = True, loop: bool = False
) -> argparse.ArgumentParser:
    """An argument parser with the options every script has."""
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    p.add_argument(
        "--database-url",
        default=os.environ.get("PARLEY_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="a server where this script may create and drop databases "
        "(default: $PARLEY_DATABASE_URL, else %(default)s)",
    )
    if nats:
        p.add_argument(
            "--nats-url",
            default=os.environ.get("PARLEY_NATS_URL") or DEFAULT_NATS_URL,
            help="NATS with JetStream (default: $PARLEY_NATS_URL, else %(default)s)",
        )
    if loop:
        p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop (as uvicorn[standard] runs the app), or asyncio's own loop."""
    if loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def run_main(coro: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(coro)


# -- figures ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return float(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)])


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, p50, p90, p99 and max of ``values``."""
    quantiles = {f"p{q}": percentile(values, q) for q in (50, 90, 99)}
    return {"n": len(values), **quantiles, "max": max(values, default=float("nan"))}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table: first column left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths))
    return [line(header), f"|{rule}|", *(line(r) for r in rows)]


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain-text table: columns two spaces apart, figures right-aligned."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return out


def targets_lines(title: str, checks: Sequence[tuple[str, str, bool]]) -> list[str]:
    lines = [title] if checks else []
    return lines + [f"  {'met   ' if ok else 'MISSED'}  {t}: {m}" for t, m, ok in checks]


# -- the machine ----------------------------------------------------------------------------


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def command_line() -> str:
    return shlex.join(sys.orig_argv)


def python_version() -> str:
    return platform.python_version()


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def git_revision() -> str:
    """The commit measured, and whether the tree differs from it (not counting bench/)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_and_total() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine so far (all cores, /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return float("nan"), float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


@contextlib.contextmanager
def machine_busy(into: dict[str, float], part: str) -> Iterator[None]:
    """Record the machine's CPU use (100% = every core) during a part."""
    busy0, total0 = machine_busy_and_total()
    try:
        yield
    finally:
        busy1, total1 = machine_busy_and_total()
        if total1 > total0:
            into[part] = round(100 * (busy1 - busy0) / (total1 - total0), 1)


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """A process this script started, its output in a log file of its own."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str, command: Sequence[str], env: dict[str, str], workdir: Path, port: int = 0
) -> Proc:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop it ourselves
        )
    return Proc(name, process, log_path, port)


def start_module(name: str, module: str, args: Sequence[str], workdir: Path, env: Any) -> Proc:
    """``python -m module --port P args`` on a free port."""
    port = free_port()
    command = [sys.executable, "-m", module, "--port", str(port), *args]
    return start(name, command, env, workdir, port)


def stop(proc: Proc) -> None:
    if proc.process.poll() is None:
        proc.process.send_signal(signal.SIGTERM)
        try:
            proc.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


async def wait_ready(
    proc: Proc,
    path: str = "/health/live",
    method: str = "GET",
    body: Any = None,
    ok: int = 200,
    timeout: float = 30,
) -> None:
    """Until ``method path`` answers ``ok`` (or the process exits, or ``timeout``)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=5) as client:
        while True:
            if proc.process.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited ({proc.process.returncode}):\n{proc.tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.request(method, path, json=body)).status_code == ok:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not answer within {timeout:g} s")
            await asyncio.sleep(0.1)
