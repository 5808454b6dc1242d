"""What every benchmark shares: options, runs, figures, tables, machine facts, processes."""

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
URLS = dict(database="postgresql://postgres@127.0.0.1:5432/postgres", nats="nats://127.0.0.1:4222")
T = TypeVar("T")
Checks = list[tuple[str, str, bool]]  # (target, measured, met)
Report = dict[str, Any]  # what a run measured, as its --json prints it
Option = tuple[str, Callable[[str], Any], Any, str]  # name, type, default, help
Render = Callable[[Any], str]
Targets = Callable[[Any], Checks]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parser(prog: str, what: str, table: list[Option], nats: bool = True, loop: bool = False) -> Any:
    """An argument parser with the options in ``table`` and those every script has."""
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=what)
    for name, kind, default, about in table:  # a bool option is a flag, off by default
        more = {"action": "store_true"} if kind is bool else {"type": kind, "default": default}
        p.add_argument(f"--{name}", help=about or None, **more)
    for name, default in list(URLS.items())[: 2 if nats else 1]:
        variable = f"PARLEY_{name.upper()}_URL"
        about = f"(default: ${variable}, else {default})"
        p.add_argument(f"--{name}-url", default=os.environ.get(variable) or default, help=about)
    if loop:
        p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def csv(kind: Callable[[str], T]) -> Callable[[str], list[T]]:
    return lambda text: [kind(part) for part in text.split(",") if part.strip()]


def run_main(coro: Coroutine[Any, Any, T], loop: str = "uvloop") -> T | None:
    """Run ``coro``; SIGTERM stops it like Ctrl-C (None then: interrupted)."""
    import uvloop

    async def main() -> T:
        task = asyncio.ensure_future(coro)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await task

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None) as r:
            return r.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return None


def emit(
    report: Any, render: Render, targets: Targets, args: Any, key: str = "measured", **extra: Any
) -> int:
    """Print the report, or with ``--json`` its data, ``extra`` and the targets met."""
    if report is None:
        return 130
    if args.json:
        checks = [{"target": t, key: m, "met": ok} for t, m, ok in targets(report)]
        print(json.dumps({**report, **extra, "targets": checks}, indent=2, default=str))
    else:
        print(render(report))
    return 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]) if ordered else math.nan


def summary(values: Sequence[float]) -> dict[str, float]:
    quantiles = {f"p{q}": percentile(values, q) for q in (50, 90, 99)}
    return {"n": len(values), **quantiles, "max": max(values, default=float("nan"))}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """First column left-aligned, the others right."""
    widths, lines = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))], []
    for cells in [header, *rows]:
        padded = [c.rjust(w) for c, w in zip(cells, widths, strict=True)]
        padded[0] = cells[0].ljust(widths[0])
        lines.append("| " + " | ".join(padded) + " |")
    rule = "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths))
    return [lines[0], f"|{rule}|", *lines[1:]]


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns two spaces apart; the header left-aligned, the rows right."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [[h.ljust(w) for h, w in zip(header, widths, strict=True)], ["-" * w for w in widths]]
    lines += [[str(c).rjust(w) for c, w in zip(r, widths, strict=True)] for r in rows]
    return ["  ".join(cells) for cells in lines]


def targets_lines(title: str, checks: Checks) -> list[str]:
    lines = [title] if checks else []
    return lines + [f"  {'met   ' if ok else 'MISSED'}  {t}: {m}" for t, m, ok in checks]


def facts() -> dict[str, Any]:
    """What every report starts with: when, how invoked, which Python, how many CPUs."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    python, cpus = platform.python_version(), os.cpu_count()
    return {"date": date, "command": shlex.join(sys.orig_argv), "python": python, "cpus": cpus}


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process (all threads) and by every
    PostgreSQL process this machine shows (0 when it shows none: a remote server)."""
    mine, postgres = os.times(), 0
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
            name, _, rest = stat.read().rpartition(")")
            if name.endswith("(postgres"):
                postgres += sum(int(x) for x in rest.split()[11:13])  # utime, stime
    return mine.user + mine.system, postgres / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_revision() -> str:
    """The commit measured, and whether the tree differs from it (not counting bench/)."""
    status = ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"]
    commit, changed = (
        subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()
        for a in (["rev-parse", "--short", "HEAD"], status)
    )
    return f"{commit}{' + uncommitted changes' if changed else ''}"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU time so far, in clock ticks (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4], sum(values[:8])  # less idle, iowait


@contextlib.contextmanager
def machine_busy(into: dict[str, float], part: str) -> Iterator[None]:
    """Record the machine's CPU use (100% = every core) during a part."""
    busy0, total0 = cpu_ticks()
    try:
        yield
    finally:
        busy1, total1 = cpu_ticks()
        if total1 > total0:
            into[part] = round(100 * (busy1 - busy0) / (total1 - total0), 1)


def raise_open_file_limit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def token(secret: str, sub: str, role: str = "admin", **claims: str) -> str:
    now = datetime.now(UTC)
    return issue_token(secret, sub=sub, role=role, ttl=timedelta(hours=2), now=now, **claims)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc(subprocess.Popen[bytes]):
    """A process of ours in a session of its own (Ctrl-C reaches us only), logging to a file."""

    def __init__(self, name: str, command: Sequence[str], env: Any, workdir: Path, port: int = 0):
        self.name, self.log_path, self.port = name, workdir / f"{name}.log", port
        self.base_url = f"http://127.0.0.1:{port}"
        with self.log_path.open("wb") as out:
            streams: Any = {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": subprocess.STDOUT}
            super().__init__(command, cwd=ROOT, env=env, start_new_session=True, **streams)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                self.wait()


def start_module(name: str, module: str, args: Sequence[str], workdir: Path, env: Any) -> Proc:
    """``python -m module --port P args`` on a free port."""
    command = [sys.executable, "-m", module, "--port", str(port := free_port()), *args]
    return Proc(name, command, env, workdir, port)


@contextlib.contextmanager
def stopping(procs: list[Proc]) -> Iterator[list[Proc]]:
    """Stop the processes put in ``procs``, last first; on an error, show the failed ones' logs."""
    try:
        yield procs
    except BaseException:
        for proc in procs:
            if proc.poll() not in (None, 0):
                log(f"--- {proc.name} log ---\n{proc.tail()}")
        raise
    finally:
        for proc in reversed(procs):
            proc.stop()


async def wait_ready(proc: Proc, path: str = "/health/live", body: Any = None) -> None:
    """Until ``GET path`` (``POST`` with a ``body``) answers 2xx; 30 s at most."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=5) as client:
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.request("POST" if body else "GET", path, json=body)).is_success:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} is not up ({proc.poll()}):\n{proc.tail()}")
