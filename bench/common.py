"""What every benchmark shares: options, runs, figures, tables, machine facts,
processes and throwaway databases."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from commands.auth import issue_token

ROOT = Path(__file__).resolve().parent.parent
CONTENT = (  # 200 characters: a typical customer message
    "Hi, I ordered running shoes last Tuesday (order 48213) and the tracking page "
    "still says 'label created' after five days. Could you check with the courier "
    "and tell me when they will arrive? Thanks, Jo!"
)
T = TypeVar("T")
Checks = list[tuple[str, str, bool]]  # (target, measured, met)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- options and runs -------------------------------------------------------------------


Option = tuple[str, Callable[[str], Any], Any, str]  # name, type, default, help


def parser(
    prog: str, description: str, options: Sequence[Option], nats: bool = True, loop: bool = False
) -> Any:
    """An argument parser with ``options`` and those every script has."""
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    for name, kind, default, what in options:
        p.add_argument(f"--{name}", type=kind, default=default, help=what or None)
    urls = [("database", "postgresql://postgres@127.0.0.1:5432/postgres")]
    urls += [("nats", "nats://127.0.0.1:4222")] if nats else []
    for name, default in urls:
        variable = f"PARLEY_{name.upper()}_URL"
        what = (
            "NATS with JetStream" if name == "nats" else "a server to create and drop databases on"
        )
        p.add_argument(
            f"--{name}-url",
            default=os.environ.get(variable) or default,
            help=f"{what} (default: ${variable}, else {default})",
        )
    if loop:
        p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def str_list(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def run_main(coro: Coroutine[Any, Any, T], loop: str = "uvloop") -> T | None:
    """Run ``coro``; SIGTERM stops it like Ctrl-C (None then: interrupted)."""
    import uvloop

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await coro

    factory = uvloop.new_event_loop if loop == "uvloop" else None
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return None


def emit(report: Any, render: Callable[[Any], str], as_json: bool, **extra: Any) -> int:
    """Print the report (or its JSON, with ``extra``); the exit status."""
    if report is None:
        return 130
    if as_json:
        print(json.dumps({**asdict(report), **extra}, indent=2, default=str))
    else:
        print(render(report))
    return 0


def checks_json(checks: Checks, key: str = "measured") -> list[dict[str, Any]]:
    return [{"target": t, key: m, "met": ok} for t, m, ok in checks]


# -- figures and tables ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return float(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)])


def summary(values: Sequence[float]) -> dict[str, float]:
    quantiles = {f"p{q}": percentile(values, q) for q in (50, 90, 99)}
    return {"n": len(values), **quantiles, "max": max(values, default=float("nan"))}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """First column left-aligned, the others right."""
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
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    return out + [
        "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    ]


def targets_lines(title: str, checks: Checks) -> list[str]:
    lines = [title] if checks else []
    return lines + [f"  {'met   ' if ok else 'MISSED'}  {t}: {m}" for t, m, ok in checks]


# -- the machine ------------------------------------------------------------------------------


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def command_line() -> str:
    return shlex.join(sys.orig_argv)


def python_version() -> str:
    return platform.python_version()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_revision() -> str:
    """The commit measured, and whether the tree differs from it (not counting bench/)."""
    git = ["git", "-C", str(ROOT)]
    status = ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"]
    try:
        head, dirty = (
            subprocess.run([*git, *a], capture_output=True, text=True).stdout.strip()
            for a in (["rev-parse", "--short", "HEAD"], status)
        )
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
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK, sum(values[:8]) / _TICK


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


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def token(secret: str, sub: str, role: str = "admin", **claims: str) -> str:
    now = datetime.now(UTC)
    return issue_token(secret, sub=sub, role=role, ttl=timedelta(hours=2), now=now, **claims)


# -- processes --------------------------------------------------------------------------------


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
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start(name: str, command: Sequence[str], env: Any, workdir: Path, port: int = 0) -> Proc:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:  # a session of its own: Ctrl-C reaches us only
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, process, log_path, port)


def start_module(name: str, module: str, args: Sequence[str], workdir: Path, env: Any) -> Proc:
    """``python -m module --port P args`` on a free port."""
    port = free_port()
    return start(
        name, [sys.executable, "-m", module, "--port", str(port), *args], env, workdir, port
    )


def stop(proc: Proc) -> None:
    if proc.process.poll() is None:
        proc.process.send_signal(signal.SIGTERM)
        try:
            proc.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


async def wait_ready(
    proc: Proc, path: str = "/health/live", method: str = "GET", body: Any = None, ok: int = 200
) -> None:
    """Until ``method path`` answers ``ok`` (or the process exits, or 30 s)."""
    deadline = time.monotonic() + 30
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
                raise RuntimeError(f"{proc.name} did not answer within 30 s")
            await asyncio.sleep(0.1)
