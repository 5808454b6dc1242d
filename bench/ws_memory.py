"""(c) memory per idle socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bench.common import Proc, log, stop
from bench.ws_procs import ClientProc, compression_of, settled_rss, token, ws_url


@dataclass
class MemoryResult:
    server: str
    compression: str
    sockets: int
    connected: int
    connect_seconds: float
    rss_before: int
    rss_after: int
    rss_after_close: int
    kib_per_socket: float = 0.0

    def __post_init__(self) -> None:
        self.kib_per_socket = (self.rss_after - self.rss_before) / 1024 / max(1, self.connected)


async def part_memory(
    client: ClientProc,
    start_servers: Callable[[str], Awaitable[dict[str, Proc]]],
    conversations: Sequence[str],
    sockets: int,
    per_conversation: int,
) -> list[MemoryResult]:
    """Each server, for each compression setting, in a fresh process of its own:
    memory a process freed (sockets closed) is reused, so a second
    measurement in the same process would count too little."""
    results = []
    for compression in ("deflate", "none"):
        servers = await start_servers(f"mem-{compression}")
        try:
            for name, proc in servers.items():
                jwt = token("mem-idle") if name == "parley" else None
                urls = [
                    ws_url(
                        proc.port, conversations[i // per_conversation % len(conversations)], jwt
                    )
                    for i in range(sockets)
                ]
                # warm the code paths first (imports, caches, pools), so that
                # only what a socket holds is counted
                await client.request(
                    op="connect",
                    name="warm",
                    urls=urls[:50],
                    compression=compression_of(compression),
                )
                await client.request(op="close", name="warm")
                before = await settled_rss(proc.pid)
                answer = await client.request(
                    op="connect", name="idle", urls=urls, compression=compression_of(compression)
                )
                after = await settled_rss(proc.pid)
                await client.request(op="close", name="idle")
                after_close = await settled_rss(proc.pid, 0.5)
                result = MemoryResult(
                    name,
                    compression,
                    sockets,
                    answer["connected"],
                    answer["seconds"],
                    before,
                    after,
                    after_close,
                )
                log(
                    f"(c) {name}, {compression}: {result.connected} sockets in "
                    f"{result.connect_seconds:.1f} s, {result.kib_per_socket:.1f} KiB each"
                )
                results.append(result)
        finally:
            for proc in servers.values():
                stop(proc)
    return results
