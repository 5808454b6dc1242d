"""Fuzz every operation of the served OpenAPI schema against a real `parley
serve` (and worker), once as an admin and once as a client: no answer may be a
5xx (see ``tests/e2e/fuzz.py`` for what is generated and what counts).

``PARLEY_FUZZ_SECONDS`` sets the budget per caller (12 s by default, so the
normal suite spends about 24 s fuzzing); the longer run recorded in
docs/RELIABILITY.md ("HTTP fuzzing") is this test with a larger budget.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import MakeDatabase
from tests.e2e.cluster import Node, running_cluster
from tests.e2e.conftest import Tokens
from tests.e2e.fuzz import Tally, fuzz

SECONDS_PER_CALLER = float(os.environ.get("PARLEY_FUZZ_SECONDS", "12"))


@pytest.fixture(scope="module")
async def node(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Node]:
    logs = tmp_path_factory.mktemp("fuzz")
    # A long fuzz run keeps the worker busy: it is never "stuck" for /health/ready.
    settings = {"PARLEY_STALL_SECONDS": "600"}
    async with running_cluster(make_database, nats_url, nats_prefix, logs, settings, 1) as nodes:
        yield nodes[0]


async def _conversation_of_c1(node: Node, tokens: Tokens) -> str:
    async with httpx.AsyncClient(base_url=node.url) as api:
        response = await api.post(
            "/api/conversations",
            json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
            headers=tokens.admin,
        )
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


def _report(caller: str, tally: Tally, node: Node) -> None:
    print(f"\nHTTP fuzzing as {caller}: {tally.summary()}")
    assert tally.operations, "the schema lists no operation"
    assert not tally.failures, f"{len(tally.failures)} failures:\n" + "\n".join(tally.failures[:20])
    # Neither the server nor the worker (projecting what the fuzzer wrote)
    # logged an unhandled error.
    for log in (node.log, node.log.with_name("worker.log")):
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]


@pytest.mark.timeout(SECONDS_PER_CALLER + 240)  # the last round, the worker catching up
@pytest.mark.parametrize("caller", ["admin", "client"])
async def test_no_generated_request_gets_a_server_error(
    node: Node, tokens: Tokens, caller: str
) -> None:
    # The client token is for client c-1: its conversation is one it may touch.
    conversation_id = await _conversation_of_c1(node, tokens)
    auth = tokens.admin if caller == "admin" else tokens.client
    tally = await asyncio.to_thread(
        fuzz, node.url, auth, conversation_id, seconds=SECONDS_PER_CALLER
    )
    _report(caller, tally, node)
