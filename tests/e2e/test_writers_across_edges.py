"""Several edges writing one conversation (issue 21): two `parley serve`
processes, four writers on each sending at full speed to the same
conversation. Commands on one conversation take turns within a process; across
processes the loser of a race takes the conversation's turn in PostgreSQL
(an advisory lock) and keeps it for a while, so no command runs out of retries:
every one succeeds (no 503 ``busy``) and the messages' seqs are 1..n."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import MakeDatabase
from tests.e2e.cluster import running_cluster
from tests.e2e.conftest import Tokens

WRITERS_PER_EDGE = 4
MESSAGES_PER_WRITER = 150


async def test_writers_on_two_edges_all_succeed_on_one_conversation(
    make_database: MakeDatabase, nats_url: str, nats_prefix: str, tmp_path: Path, tokens: Tokens
) -> None:
    cluster = running_cluster(make_database, nats_url, nats_prefix, tmp_path, {})
    async with cluster as nodes, httpx.AsyncClient(timeout=60) as http:
        started = await http.post(
            f"{nodes[0].url}/api/conversations",
            json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
            headers=tokens.admin,
        )
        assert started.status_code == 201, started.text
        cid = started.json()["conversation_id"]
        answers: Counter[str] = Counter()
        positions = [0]

        async def writer(url: str, w: int) -> None:
            for i in range(MESSAGES_PER_WRITER):
                response = await http.post(
                    f"{url}/api/messages",
                    json={"conversation_id": cid, "content": f"w{w} m{i}"},
                    headers=tokens.admin if w % 2 else tokens.client,
                )
                body = response.json()
                answers[f"{response.status_code} {body.get('code', '')}".strip()] += 1
                positions.append(body.get("position", 0))

        await asyncio.gather(
            *(
                writer(node.url, n * WRITERS_PER_EDGE + w)
                for n, node in enumerate(nodes)
                for w in range(WRITERS_PER_EDGE)
            )
        )
        total = len(nodes) * WRITERS_PER_EDGE * MESSAGES_PER_WRITER
        assert answers == {"201": total}
        seqs = await all_seqs(http, nodes[1].url, cid, max(positions), tokens)
        assert seqs == list(range(1, total + 1))


async def all_seqs(
    http: httpx.AsyncClient, url: str, cid: str, position: int, tokens: Tokens
) -> list[int]:
    """Every message's seq, oldest first, as the read model holds them once it
    has reached ``position``."""
    seqs: list[int] = []
    params: dict[str, object] = {"conversation_id": cid, "limit": 100}
    params |= {"min_position": position, "wait": 10}
    while True:
        response = await http.get(f"{url}/api/messages", params=params, headers=tokens.admin)
        assert response.status_code == 200, response.text
        body = response.json()
        seqs = [item["seq"] for item in body["items"]] + seqs
        if body["next_before"] is None:
            return seqs
        params["before"] = body["next_before"]
