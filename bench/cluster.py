"""Parley scaled out on this machine (issue 21): `parley cluster up`'s topology
(parley/local_cluster.py), measured with one edge and with two.

- SendMessage throughput: wrk (bench/send_message.lua) against one edge's own
  port, then against HAProxy in front of both.
- Live deliveries: sockets on the conversations, all on one edge or spread by
  the balancer over both; messages posted at a steady rate; deliveries/s and
  the end-to-end latency (POST sent → frame received, the send time travels in
  the message) through the balancer.

Both edges share this machine's cores with NATS, PostgreSQL, the workers, wrk
and the socket clients: the factor is what the topology costs and gains here,
not what two machines would give.
"""

import asyncio
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import msgspec
from websockets.asyncio.client import connect

from bench import common
from bench.commands_load import CONTENT, run_wrk
from parley.local_cluster import LocalCluster

SECRET = "bench-cluster-secret-that-is-32-bytes-long"
OPTIONS: list[common.Option] = [
    ("seconds", float, 10.0, "wrk's duration per round"),
    ("rounds", int, 3, "rounds of one edge then two"),
    ("threads", int, 2, "wrk threads"),
    ("connections", int, 64, "wrk connections"),
    ("conversations", int, 200, "conversations wrk writes to (random)"),
    ("watched", int, 20, "conversations the sockets watch (the first ones)"),
    ("sockets", int, 200, "WebSocket clients, spread over the watched conversations"),
    ("rate", float, 100.0, "messages per second posted during the delivery part"),
]


class Frame(msgspec.Struct):
    type: str
    content: str = ""


async def deliveries(urls: list[str], cids: list[str], args: Any) -> dict[str, Any]:
    """Sockets on ``cids`` through ``urls`` (round robin), ``rate`` messages/s
    posted through ``urls[0]`` for ``seconds``: deliveries/s and latency."""
    token, latencies, decode = (
        common.token(SECRET, "bench"),
        list[float](),
        msgspec.json.Decoder(Frame),
    )

    def address(n: int) -> str:  # a user of its own: an edge allows 20 sockets a user
        base, watcher = urls[n % len(urls)].replace("http", "ws", 1), common.token(SECRET, f"w{n}")
        return f"{base}/ws/{cids[n % len(cids)]}?after=now&token={watcher}"

    sockets = [await connect(address(n)) for n in range(args.sockets)]

    async def receive(ws: Any) -> None:
        async for raw in ws:
            frame = decode.decode(raw)
            if frame.type == "MESSAGE_CREATED" and frame.content.startswith("t="):
                latencies.append(time.time() - float(frame.content[2:]))

    readers = [asyncio.create_task(receive(ws)) for ws in sockets]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=urls[0], timeout=30) as http:
        started, posts = time.monotonic(), list[asyncio.Task[httpx.Response]]()
        while (elapsed := time.monotonic() - started) < args.seconds:
            body = {"conversation_id": cids[len(posts) % len(cids)], "content": f"t={time.time()}"}
            posts.append(
                asyncio.create_task(http.post("/api/messages", json=body, headers=headers))
            )
            await asyncio.sleep(max(0.0, len(posts) / args.rate - elapsed))
        failed = sum(r.status_code != 201 for r in await asyncio.gather(*posts))
        await asyncio.sleep(2)  # the last deliveries
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    expected = (len(posts) - failed) * args.sockets // len(cids)
    return {"deliveries_per_s": len(latencies) / args.seconds, "delivered": len(latencies)} | {
        "expected": expected,
        "failed_posts": failed,
        **{f"{k}_ms": v * 1000 for k, v in common.summary(latencies).items()},
    }


async def run(args: Any) -> dict[str, Any]:
    report: dict[str, Any] = common.facts() | {"revision": common.git_revision(), "rounds": []}
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    cluster = LocalCluster(folder, settings={"PARLEY_JWT_SECRET": SECRET})
    try:
        await asyncio.to_thread(cluster.up)
        edge = f"http://127.0.0.1:{cluster.edges[0].env['PARLEY_HTTP_PORT']}"
        token = common.token(SECRET, "bench")
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
            cids = []
            for n in range(args.conversations):
                body = {"client": {"id": f"c-{n}", "name": f"Client {n}"}, "channel": "web"}
                answer = await http.post(
                    "/api/conversations", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                cids.append(answer.json()["conversation_id"])
        lua = folder / "send_message.lua"
        template = string.Template((Path(__file__).parent / lua.name).read_text())
        lua.write_text(
            template.substitute(ids=", ".join(f'"{c}"' for c in cids), token=token, content=CONTENT)
        )
        for n in range(args.rounds):
            for name, url in (("1 edge", edge), ("2 edges", cluster.url)):
                common.log(f"round {n + 1}: {name}")
                target = SimpleNamespace(name=name, base_url=url, pid=cluster.edges[0].pid)
                load = await run_wrk(target, lua, args.seconds, n, args)  # type: ignore[arg-type]
                urls = [edge] if name == "1 edge" else [cluster.url]
                live = await deliveries(urls, cids[: args.watched], args)
                report["rounds"].append({"edges": name, "round": n + 1, "load": load, "live": live})
    finally:
        await asyncio.to_thread(cluster.down)
        shutil.rmtree(folder, ignore_errors=True)
    return report


def row(r: dict[str, Any]) -> list[str]:
    load, live = r["load"], r["live"]
    return [
        r["edges"],
        str(r["round"]),
        f"{load['requests_per_s']:,.0f}",
        f"{load['p99_ms']:.1f}",
        str(load["non_2xx"]),
        f"{live['deliveries_per_s']:,.0f}",
        f"{live['delivered']:,} of {live['expected']:,}",
        f"{live['p50_ms']:.1f} / {live['p99_ms']:.1f}",
    ]


def render(report: dict[str, Any]) -> str:
    header = ["edges", "round", "SendMessage req/s", "p99 ms", "non-2xx"]
    header += ["deliveries/s", "delivered", "e2e p50 / p99 ms"]
    rounds = report["rounds"]
    median = {
        e: common.percentile([r["load"]["requests_per_s"] for r in rounds if r["edges"] == e], 50)
        for e in ("1 edge", "2 edges")
    }
    lines = [f"bench.cluster, {report['date']}, {report['cpus']} CPUs, {report['revision']}"]
    lines += [f"command: {report['command']}", ""]
    lines += common.markdown_table(header, [row(r) for r in rounds])
    factor = median["2 edges"] / median["1 edge"]
    return "\n".join([*lines, f"SendMessage, 2 edges / 1 edge (medians): {factor:.2f}x"])


def main(argv: list[str] | None = None) -> int:
    args = common.parser("bench.cluster", __doc__.splitlines()[0], OPTIONS, nats=False).parse_args(
        argv
    )
    return common.emit(common.run_main(run(args)), render, lambda _: [], args)


if __name__ == "__main__":
    sys.exit(main())
