"""GET /metrics answers, and its counters move as a scripted workload runs."""

from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import Tokens


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match[1]) if match else 0.0


async def test_metrics_move_with_the_workload(api: httpx.AsyncClient, tokens: Tokens) -> None:
    before = (await api.get("/metrics")).text
    started = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Metered"}, "channel": "web"},
        headers=tokens.admin,
    )
    cid = started.json()["conversation_id"]
    for i in range(3):
        await api.post(
            "/api/messages",
            json={"conversation_id": cid, "content": f"m{i}"},
            headers=tokens.client,
        )
    await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "active"}, headers=tokens.admin
    )
    await api.get(
        f"/api/conversations/{cid}",
        params={"min_position": started.json()["position"] + 3},
        headers=tokens.admin,
    )

    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    sent = ("parley_commands_total", {"command": "SendMessage", "outcome": "ok"})
    assert sample(after, sent[0], **sent[1]) - sample(before, sent[0], **sent[1]) == 3
    refused = {"command": "ChangeStatus", "outcome": "invalid_transition"}
    assert sample(after, "parley_commands_total", **refused) >= 1
    assert (
        sample(after, "parley_events_appended_total")
        - sample(before, "parley_events_appended_total")
        >= 4
    )
    assert sample(after, "parley_append_seconds_count") > sample(
        before, "parley_append_seconds_count"
    )
    head = sample(after, "parley_log_head_position")
    assert head >= started.json()["position"] + 3
    assert (
        sample(after, "parley_consumer_position", consumer="inbox")
        >= started.json()["position"] + 3
    )
    assert "parley_consumer_lag_events" in after and "parley_ws_connections" in after
