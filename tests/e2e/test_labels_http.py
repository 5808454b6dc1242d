"""Labels over real HTTP: the catalogue (create, rename, recolour, delete),
labelling and unlabelling conversations, the inbox's ``label=`` filter, and
who may (not) see or touch any of it. The catalogue is account-wide and the
database lives for the whole run, so every test names its labels afresh."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from events.postgres.store import PostgresEventStore
from tests.e2e.conftest import Tokens

Json = dict[str, Any]


def fresh(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def create_label(
    api: httpx.AsyncClient, tokens: Tokens, name: str, colour: str = "#AA0000"
) -> Json:
    response = await api.post(
        "/api/labels", json={"name": name, "colour": colour}, headers=tokens.admin
    )
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def catalogue(api: httpx.AsyncClient, tokens: Tokens, position: int) -> dict[str, Json]:
    """The catalogue as the read API has it once it has reached ``position``."""
    response = await api.get("/api/labels", params={"min_position": position}, headers=tokens.agent)
    assert response.status_code == 200, response.text
    return {label["label_id"]: label for label in response.json()["items"]}


async def start(api: httpx.AsyncClient, tokens: Tokens, client_id: str) -> str:
    body = {"client": {"id": client_id, "name": "Carol"}, "channel": "web"}
    response = await api.post("/api/conversations", json=body, headers=tokens.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["conversation_id"])


async def label(
    api: httpx.AsyncClient, headers: dict[str, str], cid: str, label_id: str
) -> httpx.Response:
    return await api.post(
        f"/api/conversations/{cid}/labels", json={"label_id": label_id}, headers=headers
    )


async def row(api: httpx.AsyncClient, headers: dict[str, str], cid: str, position: int) -> Json:
    response = await api.get(
        f"/api/conversations/{cid}", params={"min_position": position}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def inbox(
    api: httpx.AsyncClient, tokens: Tokens, client_id: str, position: int, *labels: str
) -> list[str]:
    params: list[tuple[str, str | int]] = [("client_id", client_id), ("min_position", position)]
    params += [("label", label_id) for label_id in labels]
    response = await api.get("/api/conversations", params=params, headers=tokens.admin)
    assert response.status_code == 200, response.text
    return sorted(item["conversation_id"] for item in response.json()["items"])


# -- the catalogue ---------------------------------------------------------------------


async def test_an_admin_creates_renames_recolours_and_deletes_a_label(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    name = fresh("Needs Refund")
    created = await create_label(api, tokens, name)
    label_id = created["label_id"]
    assert label_id == name.lower().replace(" ", "-")
    assert (created["stream_id"], created["events"]) == ("labels", ["LabelCreated"])
    assert (await catalogue(api, tokens, created["position"]))[label_id] == {
        "label_id": label_id,
        "name": name,
        "colour": "#aa0000",
    }

    renamed = await api.put(
        f"/api/labels/{label_id}", json={"name": name + "!"}, headers=tokens.admin
    )
    recoloured = await api.put(
        f"/api/labels/{label_id}", json={"colour": "#00AA00"}, headers=tokens.admin
    )
    assert renamed.json()["events"] == recoloured.json()["events"] == ["LabelChanged"]
    shown = (await catalogue(api, tokens, recoloured.json()["position"]))[label_id]
    assert (shown["name"], shown["colour"]) == (name + "!", "#00aa00")

    deleted = await api.delete(f"/api/labels/{label_id}", headers=tokens.admin)
    again = await api.delete(f"/api/labels/{label_id}", headers=tokens.admin)
    assert (deleted.status_code, deleted.json()["events"]) == (200, ["LabelDeleted"])
    assert (again.status_code, again.json()["events"]) == (200, [])
    assert label_id not in await catalogue(api, tokens, deleted.json()["position"])


async def test_names_are_unique_ignoring_case_and_ids_are_never_reused(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    name = fresh("VIP")
    first = await create_label(api, tokens, name)

    clash = await api.post(
        "/api/labels", json={"name": name.upper(), "colour": "#000000"}, headers=tokens.admin
    )
    await api.delete(f"/api/labels/{first['label_id']}", headers=tokens.admin)
    reused = await api.post(
        "/api/labels",
        json={"name": name, "colour": "#000000", "label_id": first["label_id"]},
        headers=tokens.admin,
    )
    renewed = await create_label(api, tokens, name)

    assert (clash.status_code, clash.json()["code"], clash.json()["field"]) == (
        409,
        "label_exists",
        "name",
    )
    assert (reused.status_code, reused.json()["field"]) == (409, "label_id")
    assert renewed["label_id"] == first["label_id"] + "-2"


async def test_agents_read_the_catalogue_but_only_admins_change_it(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    created = await create_label(api, tokens, fresh("Gold"))
    label_id = created["label_id"]

    refused = [
        await api.post(
            "/api/labels", json={"name": fresh("x"), "colour": "#000000"}, headers=tokens.agent
        ),
        await api.put(f"/api/labels/{label_id}", json={"name": "y"}, headers=tokens.agent),
        await api.delete(f"/api/labels/{label_id}", headers=tokens.agent),
    ]

    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 3
    assert label_id in await catalogue(api, tokens, created["position"])


async def test_bad_label_bodies_and_paths_are_refused_with_a_code(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cases = [
        ("POST", "/api/labels", {"name": "x", "colour": "red"}, 400),
        ("POST", "/api/labels", {"name": " ", "colour": "#000000"}, 400),
        ("POST", "/api/labels", {"name": "x", "colour": "#000000", "extra": 1}, 400),
        ("POST", "/api/labels", {"name": "x", "colour": "#000000", "label_id": "Not An Id"}, 400),
        ("PUT", "/api/labels/nope-" + uuid.uuid4().hex[:6], {"name": "x"}, 404),
        ("PUT", "/api/labels/UPPER", {"name": "x"}, 400),
        ("DELETE", "/api/labels/" + "a" * 51, None, 400),
    ]
    for method, path, body, status in cases:
        response = await api.request(method, path, json=body, headers=tokens.admin)
        assert response.status_code == status, (method, path, body, response.text)
        assert response.json()["code"]


# -- labelling conversations -----------------------------------------------------------


async def test_staff_label_and_unlabel_a_conversation_and_rows_show_its_labels(
    api: httpx.AsyncClient, tokens: Tokens, store: PostgresEventStore
) -> None:
    name = fresh("Billing")
    created = await create_label(api, tokens, name)
    label_id = created["label_id"]
    await catalogue(api, tokens, created["position"])
    cid = await start(api, tokens, fresh("c").replace(" ", "-"))

    labelled = await label(api, tokens.agent, cid, label_id)
    again = await label(api, tokens.agent, cid, label_id)
    assert (labelled.status_code, labelled.json()["events"]) == (200, ["ConversationLabelled"])
    assert again.json()["events"] == []
    shown = await row(api, tokens.agent, cid, labelled.json()["position"])
    assert shown["labels"] == [{"label_id": label_id, "name": name, "colour": "#aa0000"}]
    assert shown["version"] == labelled.json()["version"]

    unlabelled = await api.delete(
        f"/api/conversations/{cid}/labels/{label_id}", headers=tokens.admin
    )
    assert (unlabelled.status_code, unlabelled.json()["events"]) == (
        200,
        ["ConversationUnlabelled"],
    )
    assert (await row(api, tokens.agent, cid, unlabelled.json()["position"]))["labels"] == []
    types = [e.type for e in await store.read_stream(f"conversation-{cid}")]
    assert types[-2:] == ["ConversationLabelled", "ConversationUnlabelled"]

    # A closed conversation may still be labelled (a label often says why it closed).
    closed = await api.patch(
        f"/api/conversations/{cid}/status", json={"status": "closed"}, headers=tokens.admin
    )
    assert closed.status_code == 200, closed.text
    relabelled = await label(api, tokens.agent, cid, label_id)
    assert (relabelled.status_code, relabelled.json()["events"]) == (200, ["ConversationLabelled"])


async def test_only_labels_of_the_catalogue_go_on_conversations(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid = await start(api, tokens, "c-1")

    unknown = await label(api, tokens.admin, cid, "no-such-label-" + uuid.uuid4().hex[:6])
    nowhere = await label(
        api,
        tokens.admin,
        str(uuid.uuid4()),
        (await create_label(api, tokens, fresh("L")))["label_id"],
    )

    assert (unknown.status_code, unknown.json()["code"], unknown.json()["field"]) == (
        404,
        "label_not_found",
        "label_id",
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "conversation_not_found")


async def test_the_inbox_filters_by_every_label_given(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = fresh("c").replace(" ", "-")
    red, blue = [await create_label(api, tokens, fresh(n)) for n in ("Red", "Blue")]
    both, only_red, neither = [await start(api, tokens, client_id) for _ in range(3)]
    for cid, label_id in (
        (both, red["label_id"]),
        (both, blue["label_id"]),
        (only_red, red["label_id"]),
    ):
        response = await label(api, tokens.admin, cid, label_id)
    position = response.json()["position"]
    await catalogue(api, tokens, position)

    assert await inbox(api, tokens, client_id, position, red["label_id"]) == sorted(
        [both, only_red]
    )
    assert await inbox(api, tokens, client_id, position, red["label_id"], blue["label_id"]) == [
        both
    ]
    assert neither in await inbox(api, tokens, client_id, position)

    bad = await api.get("/api/conversations", params={"label": "Not A Label"}, headers=tokens.admin)
    many = await api.get(
        "/api/conversations", params=[("label", f"l{n}") for n in range(11)], headers=tokens.admin
    )
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (
        400,
        "invalid_query",
        "label",
    )
    assert many.status_code == 400


async def test_a_deleted_label_vanishes_from_rows_and_filters_and_a_renamed_one_follows(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = fresh("c").replace(" ", "-")
    gone, kept = (
        await create_label(api, tokens, fresh("Gone")),
        await create_label(api, tokens, fresh("Kept")),
    )
    cid = await start(api, tokens, client_id)
    await label(api, tokens.admin, cid, kept["label_id"])
    labelled = (await label(api, tokens.admin, cid, gone["label_id"])).json()["position"]
    await catalogue(api, tokens, labelled)
    # Both show, by name (not in the order they were put on).
    before = await row(api, tokens.admin, cid, labelled)
    assert [x["label_id"] for x in before["labels"]] == [gone["label_id"], kept["label_id"]]

    deleted = await api.delete(f"/api/labels/{gone['label_id']}", headers=tokens.admin)
    renamed = await api.put(
        f"/api/labels/{kept['label_id']}", json={"name": "Zz kept"}, headers=tokens.admin
    )
    position = max(deleted.json()["position"], renamed.json()["position"])
    await catalogue(api, tokens, position)

    shown = await row(api, tokens.admin, cid, position)
    assert shown["labels"] == [
        {"label_id": kept["label_id"], "name": "Zz kept", "colour": "#aa0000"}
    ]
    assert await inbox(api, tokens, client_id, position, gone["label_id"]) == []
    assert await inbox(api, tokens, client_id, position, kept["label_id"]) == [cid]


# -- clients ---------------------------------------------------------------------------


async def test_clients_are_refused_everywhere_and_never_see_labels(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    created = await create_label(api, tokens, fresh("Secret"))
    label_id = created["label_id"]
    cid = await start(api, tokens, "c-1")  # the client's own
    labelled = await label(api, tokens.admin, cid, label_id)
    await catalogue(api, tokens, labelled.json()["position"])

    for headers in (tokens.client, tokens.other_client):
        refused = [
            await api.get("/api/labels", headers=headers),
            await api.post("/api/labels", json={"name": "x", "colour": "#000000"}, headers=headers),
            await api.post("/api/labels", json={"nonsense": True}, headers=headers),
            await api.put(f"/api/labels/{label_id}", json={"name": "x"}, headers=headers),
            await api.delete(f"/api/labels/{label_id}", headers=headers),
            await label(api, headers, cid, label_id),
            await api.delete(f"/api/conversations/{cid}/labels/{label_id}", headers=headers),
            await api.get("/api/conversations", params={"label": label_id}, headers=headers),
        ]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * len(
            refused
        )
    # The client's own conversation, as the client reads it: no labels.
    assert (await row(api, tokens.client, cid, labelled.json()["position"]))["labels"] == []
    assert (await row(api, tokens.admin, cid, labelled.json()["position"]))["labels"] != []
    unauthenticated = await api.get("/api/labels")
    assert unauthenticated.status_code == 401
