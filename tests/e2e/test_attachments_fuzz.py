"""Hypothesis fuzzes the attachment endpoints over real HTTP: any body,
header, file name, field, boundary, conversation or signed-URL query gets a
clear 4xx (or a 201 for a good file), never a 5xx, and a refused upload
never leaves anything in the blob store."""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attachment_samples import ELF, GIF, PDF, PNG, TEXT, WEBP
from tests.conftest import MakeDatabase
from tests.e2e.attachment_server import MAX_BYTES, Served, attachment_server, eventually
from tests.e2e.conftest import Tokens

EXAMPLES = 150

MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBP", b"%PDF-"]
FILES = st.one_of(
    st.sampled_from([PNG, GIF, WEBP, PDF, TEXT, ELF]),
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=3000)).map(b"".join),
    st.tuples(st.sampled_from([PNG, PDF, GIF]), st.integers(0, 400)).map(lambda t: t[0][: t[1]]),
    st.integers(MAX_BYTES - 2, MAX_BYTES + 2).map(lambda n: b"a" * n),
)
TOKEN_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=40
)
STATUSES = {201, 400, 401, 403, 404, 409, 413, 415, 422}


@pytest.fixture(scope="module")
async def served(
    make_database: MakeDatabase,
    nats_url: str,
    nats_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Served]:
    database_url = await make_database()
    data_dir = tmp_path_factory.mktemp("parley-fuzz")
    async with attachment_server(database_url, nats_url, f"{nats_prefix}fz", data_dir) as s:
        yield s


def blob_files(root: Path) -> set[str]:
    """The names of the files in the blob folder (temporary ones included)."""
    if not root.exists():
        return set()
    return {p.name for p in root.rglob("*") if p.is_file()}


def mostly(good: object, *bad: object) -> st.SearchStrategy[object]:
    """``good`` four times in five, else one of ``bad``."""
    return st.sampled_from([good] * 4 * len(bad) + list(bad))


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str, bytes]:
    """A multipart body, and its Content-Type: each part well formed four
    times in five, so the fuzzer gets past every check as well as into each."""
    boundary = draw(st.sampled_from(["b0undary", "----x", "a" * 70]))
    data = draw(FILES)
    field = draw(mostly("file", "photo", "", "file\x00"))
    filename = draw(mostly("photo.png", "", "../a", "x" * 300) | TOKEN_TEXT).replace('"', "")
    part_type = draw(st.sampled_from(["image/png", "application/x-msdownload", "", "text/html"]))
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"'
    head += f"\r\nContent-Type: {part_type}" if part_type else ""
    body = f"{head}\r\n\r\n".encode() + data + b"\r\n"
    second = f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\ny\r\n'
    body += draw(mostly(b"", second.encode()))  # type: ignore[operator]
    body += f"--{boundary}--\r\n".encode()
    cut = draw(mostly(None, 0, 10, -5, -40))
    if isinstance(cut, int):
        body = body[:cut]
    content_type = draw(
        mostly(
            f"multipart/form-data; boundary={boundary}",
            f'multipart/form-data; boundary="{boundary}"',
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "application/json",
            "",
            f"multipart/mixed; boundary={boundary}",
        )
    )
    assert isinstance(content_type, str)
    return body, content_type, data


def fuzz_uploads(url: str, tokens: Tokens, cid: str, root: Path) -> list[int]:
    """The fuzzer (synchronous: it runs in a thread while the server serves)."""
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        body=bodies(),
        conversation=mostly(cid, "not-a-uuid", "", None, "6a0f5f0e-1d52-4a43-8b8d-3b1f4f6f0c11"),
        who=mostly("client", "other_client", "admin", "nobody"),
    )
    def upload(body: tuple[bytes, str, bytes], conversation: str | None, who: str) -> None:
        content, content_type, data = body
        name = hashlib.sha256(data).hexdigest()
        headers = getattr(tokens, who) if who != "nobody" else {}
        if content_type:
            headers = {**headers, "Content-Type": content_type}
        before = blob_files(root)
        params = {"conversation_id": conversation} if conversation is not None else {}
        with httpx.Client(base_url=url, timeout=30) as api:
            response = api.post("/api/attachments", params=params, content=content, headers=headers)
        statuses.append(response.status_code)
        assert response.status_code in STATUSES, response.text
        if response.status_code == 201:
            assert response.json()["size"] <= MAX_BYTES
        else:  # (the image checker may store thumbnails meanwhile)
            assert isinstance(response.json()["code"], str)
            assert name in before or name not in blob_files(root), response.text

    upload()
    return statuses


def fuzz_downloads(url: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(
        variant=st.sampled_from(["content", "thumbnail", "url", ""]),
        attachment=st.one_of(st.uuids().map(str), TOKEN_TEXT),
        expires=st.one_of(st.integers(-(2**70), 2**70).map(str), TOKEN_TEXT),
        sig=TOKEN_TEXT,
    )
    def download(variant: str, attachment: str, expires: str, sig: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as api:
            response = api.get(
                f"/api/attachments/{quote(attachment, safe='')}/{variant}",
                params={"expires": expires, "sig": sig},
            )
        assert response.status_code in {400, 401, 403, 404, 405}, response.text

    download()


async def test_no_upload_is_ever_a_server_error(served: Served, tokens: Tokens) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as api:
        started = await api.post(
            "/api/conversations",
            json={"client": {"id": "c-1", "name": "Carol"}, "channel": "web"},
            headers=tokens.admin,
        )
    cid = started.json()["conversation_id"]
    root = served.data_dir / "blobs"

    statuses = await asyncio.to_thread(fuzz_uploads, served.url, tokens, cid, root)

    print(sorted(collections.Counter(statuses).items()))
    assert {201, 400, 415}.issubset(statuses)  # the fuzzer reached past the checks
    # No refused upload left a temporary file behind (once the checker is done).
    incoming = root / ".incoming"

    async def no_temporary_file() -> bool:
        return not incoming.exists() or not any(incoming.iterdir())

    await eventually(no_temporary_file, what="no temporary file in the blob folder")


async def test_no_download_query_is_ever_a_server_error(served: Served) -> None:
    await asyncio.to_thread(fuzz_downloads, served.url)
