"""A NATS tap for ``bench.ws``, in a process of its own so that its clock
readings do not wait for a busy event loop.

It subscribes to ``<prefix>.events.*.MessageSent`` (as every ``parley serve``
does) and notes, for each benchmark message (content ``<tag>|<n>|<send ns>``),
when it arrived (monotonic ns) and its ``recorded_at`` (PostgreSQL's
``clock_timestamp()`` at the INSERT) moved to the monotonic clock. JSON lines
on stdin/stdout, like ``bench.ws_client``:

- ``{"op": "dump", "path": P}``: write ``{content: [arrived, recorded]}`` to
  ``P`` (and forget it);
- ``{"op": "exit"}``.

    .venv/bin/python -m bench.ws_tap NATS_URL PREFIX
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from typing import Any

import msgspec
import nats
import uvloop


class _Data(msgspec.Struct):
    content: str | None = None


class _Event(msgspec.Struct):
    data: _Data
    recorded_at: datetime


_decode = msgspec.json.Decoder(_Event).decode


def _write(path: str, seen: dict[str, tuple[int, int]]) -> None:
    with open(path, "w") as out:
        json.dump(seen, out)


async def serve_requests(nats_url: str, prefix: str) -> None:
    seen: dict[str, tuple[int, int]] = {}
    wall_minus_monotonic = time.time_ns() - time.monotonic_ns()

    async def on_message(message: Any) -> None:
        now = time.monotonic_ns()
        try:
            event = _decode(message.data)
        except msgspec.DecodeError:
            return
        if event.data.content is not None and "|" in event.data.content:
            recorded = round(event.recorded_at.timestamp() * 1e9) - wall_minus_monotonic
            seen[event.data.content] = (now, recorded)

    nc = await nats.connect(nats_url, connect_timeout=5)
    try:
        await nc.subscribe(f"{prefix}.events.*.MessageSent", cb=on_message)
        await nc.flush()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print(json.dumps({"ok": True}), flush=True)
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "dump":
                _write(request["path"], seen)
                answer: dict[str, object] = {"ok": True, "seen": len(seen)}
                seen = {}
            elif request["op"] == "exit":
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                answer = {"ok": False, "error": f"unknown op {request['op']!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        await nc.close()


def main() -> None:
    uvloop.run(serve_requests(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
