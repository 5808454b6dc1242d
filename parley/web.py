"""The web admin client (``web/``, built into ``web/dist``) served at ``/``.

Any GET that is not a built file answers ``index.html`` (the client routes
itself), except under the server's own prefixes (``/api``, ``/ws``,
``/health``, ``/metrics``, ``/schema``), which never fall back to the page.

``/web/config`` tells the page whether the dev sign-in is on; it is only under
``parley run`` (``web_routes(dev_sign_in=True)``), never under ``parley serve``,
where ``POST /web/dev-sign-in`` answers 404.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from litestar import MediaType, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File
from litestar.types import ControllerRouterHandler

from commands.auth import issue_token
from commands.model import Role

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
"""Where ``make web`` (``npm run build`` in ``web/``) puts the built client."""

RESERVED = ("api", "ws", "health", "metrics", "schema", "web")
"""First path segments that belong to the server, never to the page."""

DEV_TOKEN_TTL = timedelta(hours=24)

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Parley</h1>
<p>The web client is not built. Run <code>make web</code> (it needs Node.js 20 or
newer and npm), then reload this page. The API is served all the same:
<a href="/schema/swagger">/schema/swagger</a>.</p>
</body></html>
"""


class WebConfig(msgspec.Struct, frozen=True, kw_only=True):
    dev_sign_in: bool


class DevToken(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    expires_at: datetime


def _inside(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None (also for ``..`` tricks)."""
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if root.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def web_routes(
    jwt_secret: str, *, dev_sign_in: bool = False, dist: Path = WEB_DIST
) -> list[ControllerRouterHandler]:
    """The page, its assets and ``/web/config``; with ``dev_sign_in``, also
    ``POST /web/dev-sign-in`` (an admin token for whoever asks: development only)."""

    def page(path: str) -> Response[bytes] | File:
        relative = path.strip("/")
        if relative.split("/", 1)[0] in RESERVED:
            raise NotFoundException(f"no route for /{relative}")
        found = _inside(dist, relative) if relative else None
        if found is not None:
            media_type, _ = mimetypes.guess_type(found.name)
            immutable = relative.startswith("assets/")
            return File(
                found,
                media_type=media_type or "application/octet-stream",
                content_disposition_type="inline",
                headers={
                    "Cache-Control": "public, max-age=31536000, immutable"
                    if immutable
                    else "no-cache"
                },
            )
        index = dist / "index.html"
        if not index.is_file():
            return Response(NOT_BUILT.encode(), media_type=MediaType.HTML, status_code=200)
        return Response(
            index.read_bytes(), media_type=MediaType.HTML, headers={"Cache-Control": "no-cache"}
        )

    @get("/", include_in_schema=False, sync_to_thread=False)
    def root() -> Response[bytes] | File:
        return page("")

    @get("/{path:path}", include_in_schema=False, sync_to_thread=False)
    def anything(path: FromPath[str]) -> Response[bytes] | File:
        return page(path)

    @get("/web/config", summary="What the web client may offer (dev sign-in)", sync_to_thread=False)
    def config() -> WebConfig:
        return WebConfig(dev_sign_in=dev_sign_in)

    # Registered either way: the catch-all GET above also matches this path, so
    # without a POST handler here a POST would answer 405 (method not allowed)
    # instead of 404 when the dev sign-in is off.
    @post("/web/dev-sign-in", status_code=200, include_in_schema=False, sync_to_thread=False)
    def sign_in() -> DevToken:
        if not dev_sign_in:
            raise NotFoundException("no route for /web/dev-sign-in")
        now = datetime.now(UTC)
        token = issue_token(
            jwt_secret, sub="dev-admin", role=Role.ADMIN, ttl=DEV_TOKEN_TTL, now=now
        )
        return DevToken(token=token, expires_at=now + DEV_TOKEN_TTL)

    return [root, anything, config, sign_in]
