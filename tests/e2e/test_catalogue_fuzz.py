"""Bad input to the label and canned-response endpoints is never a 500: a
Hypothesis fuzz of their bodies (any JSON, and objects of their own fields
holding anything) and path ids, sent as an admin and as an agent over real
HTTP. Every answer below 500, with a JSON error ``code`` when refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Tokens

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.text(max_size=80)
    | st.sampled_from(["#ff0000", "#FFF", "vip", "a" * 51, "x\x00y", " ", "hello", "-x"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["name", "colour", "label_id", "code", "content", "shared", "command_id", "seen_version"]
BODIES = JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4)
PATH_IDS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60
) | st.sampled_from(["vip", str(uuid.uuid4()), "UPPER", "a" * 51, "-x"])
ENDPOINTS = st.sampled_from(
    [
        ("POST", "/api/labels"),
        ("PUT", "/api/labels/{id}"),
        ("DELETE", "/api/labels/{id}"),
        ("POST", "/api/conversations/{cid}/labels"),
        ("DELETE", "/api/conversations/{cid}/labels/{id}"),
        ("POST", "/api/canned-responses"),
        ("PUT", "/api/canned-responses/{uuid}"),
        ("DELETE", "/api/canned-responses/{uuid}"),
        ("GET", "/api/canned-responses?prefix={id}"),
        ("GET", "/api/conversations?label={id}"),
    ]
)


def fuzz(base_url: str, callers: list[dict[str, str]], cid: str) -> list[str]:
    failures: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as api:

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            endpoint=ENDPOINTS,
            body=BODIES,
            path_id=PATH_IDS,
            caller=st.sampled_from(callers),
            as_json=st.booleans(),
        )
        def send(
            endpoint: tuple[str, str],
            body: Any,
            path_id: str,
            caller: dict[str, str],
            as_json: bool,
        ) -> None:
            method, template = endpoint
            path = template.format(id=quote(path_id, safe=""), cid=cid, uuid=uuid.uuid4())
            if method in ("GET", "DELETE"):
                response = api.request(method, path, headers=caller)
            elif as_json:
                response = api.request(method, path, json=body, headers=caller)
            else:
                raw = str(body).encode("utf-8", "surrogatepass")
                response = api.request(method, path, content=raw, headers=caller)
            if response.status_code >= 500:
                failures.append(
                    f"{response.status_code} {method} {path} {body!r}: {response.text[:200]}"
                )
            elif response.status_code >= 400 and not response.json().get("code"):
                failures.append(f"no code: {method} {path} {body!r}: {response.text[:200]}")

        send()
    return failures


async def test_no_label_or_canned_request_gets_a_server_error(
    api: httpx.AsyncClient, tokens: Tokens, server_url: str
) -> None:
    started = await api.post(
        "/api/conversations",
        json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
        headers=tokens.admin,
    )
    cid = started.json()["conversation_id"]

    failures = await asyncio.to_thread(fuzz, server_url, [tokens.admin, tokens.agent], cid)

    assert failures == []
