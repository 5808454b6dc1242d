"""The bare Litestar endpoint ``bench.commands`` compares Parley with.

One ``POST /api/messages`` whose body is decoded and validated into the same
``commands.model.SendMessage`` Struct Parley uses, answering 201 with a
``CommandResult`` of the same shape as Parley's, made up on the spot: no
token check, no I/O, no dependencies. Served by ``bench.commands_server.run``
with the same uvicorn settings as the real app::

    .venv/bin/python -m bench.bare_app --port 8101
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from litestar import Litestar, post
from litestar.params import JSONBody

from bench.commands_server import run
from commands.handler import CommandResult
from commands.model import SendMessage

_MESSAGE_ID = UUID("00000000-0000-4000-8000-000000000001")


@post("/api/messages", status_code=201)
async def send_message(data: JSONBody[SendMessage]) -> CommandResult:
    return CommandResult(
        conversation_id=data.conversation_id,
        position=1,
        version=2,
        events=["MessageSent"],
        message_id=_MESSAGE_ID,
        seq=1,
    )


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[send_message])


@contextlib.asynccontextmanager
async def _context() -> AsyncIterator[Litestar]:
    yield create_bare_app()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app")
    parser.add_argument("--port", type=int, required=True)
    run(_context, parser.parse_args().port)


if __name__ == "__main__":
    main()
