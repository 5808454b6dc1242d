"""``parley replay <conversation_id> --as-of <ISO time | global position>``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import click

from parley.process import database_url, fail, load_settings, one_line_errors, out, stoppable


@click.command()
@click.argument("conversation_id", type=click.UUID)
@click.option("--as-of", "as_of", required=True, help="A global position, or an ISO 8601 time.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a summary.")
def replay(conversation_id: UUID, as_of: str, as_json: bool) -> None:
    """Print a conversation as it was at a past moment, folded from its events."""
    import msgspec

    from events.postgres.store import PostgresEventStore
    from parley.master_key import client_keys
    from parley.server import run_async
    from parley.services import connect_postgres
    from read_api.time_travel import ConversationAsOf
    from read_api.time_travel import replay as fold

    moment: int | datetime
    if as_of.isdigit():
        moment = int(as_of)
    else:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of: {as_of!r} is neither a global position nor an ISO 8601 time")
        if moment.tzinfo is None:
            fail("--as-of: give the time with its zone, e.g. 2026-11-24T18:00:00+00:00")

    async def run(url: str) -> ConversationAsOf:
        pool = await connect_postgres(url)
        try:
            store = PostgresEventStore(pool, keys=client_keys(pool, settings))
            return await fold(store, conversation_id, as_of=moment)
        finally:
            await pool.close()

    settings = load_settings()
    with one_line_errors(), stoppable() as stack:
        url = database_url(settings, stack)
        state = run_async(lambda: run(url))
    if state.version == 0:
        fail(f"conversation {conversation_id} did not exist at {as_of}")
    if as_json:
        click.echo(msgspec.json.encode(state).decode())
        return
    out.print(
        f"[bold]{state.conversation_id}[/] as of position {state.position} ({state.at}):\n"
        f"  status {state.status}, priority {state.priority}, client {state.client_id}"
        f"{', deleted' if state.deleted else ''}\n"
        f"  unread: {state.unread_for_staff} for staff, {state.unread_for_client} for the client\n"
        f"  {len(state.messages)} message(s):"
    )
    for m in state.messages:
        out.print(f"    #{m.seq} {m.sender} {m.sender_id}: {m.content[:80]!r}", markup=False)
