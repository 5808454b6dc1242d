"""ADD_NOTE: a private note from a staff socket (conversation or inbox),
its mentions resolved, through the command handler like any command.

A client's socket is refused ``forbidden`` (by the access policy, before
anything is looked up): the socket stays open. The mentions are the
frame's explicit ones (each must be an agent: else ``agent_not_found``)
and the agents its ``@name``s name (``commands.notes.mentioned`` over the
node's directory). Notes count against the socket's message rate limit.
"""

from __future__ import annotations

from uuid import UUID

from commands import access, errors, notes
from commands.model import Actor, AddNote
from events.fields import MAX_CONTENT_LENGTH
from events.store import StoreUnavailable
from ws_edge import frames
from ws_edge.directory import Directory
from ws_edge.reader import Commands

MAX_CANDIDATES = 20
"""``@words`` of a note looked up as agent ids (the roster covers names)."""
_MAX_ID = 200


def candidates(content: str) -> list[str]:
    """The ``@words`` of ``content`` that may be agent ids, to look up
    before ``commands.notes.mentioned`` decides (which has the last word)."""
    words = (word.lstrip("(").rstrip(".,;:!?)") for word in content[:MAX_CONTENT_LENGTH].split())
    found = [word[1:] for word in words if word.startswith("@") and 1 < len(word) <= _MAX_ID]
    return list(dict.fromkeys(word for word in found if "@" not in word))[:MAX_CANDIDATES]


async def resolve_mentions(
    content: str, explicit: tuple[str, ...], directory: Directory
) -> tuple[str, ...]:
    """The agents a note mentions: ``explicit`` (each must be one), then
    those its ``@name``s name, each once."""
    await directory.look_up_agents([*explicit, *candidates(content)])
    known = directory.agents()
    for agent_id in explicit:
        if agent_id not in known:
            raise errors.AgentNotFound(f"no agent {agent_id!r} to mention", field="mentions")
    named = notes.mentioned(content, await directory.with_roster())
    return tuple(dict.fromkeys([*explicit, *named]))


def _conversation(frame: frames.AddNoteFrame, socket_conversation: UUID | None) -> UUID:
    """The note's conversation: the socket's (the frame may repeat it), or
    on the inbox (``socket_conversation`` None) the frame's."""
    if socket_conversation is None:
        if frame.conversation_id is None:
            message = "say which conversation the note is for"
            raise errors.InvalidCommand(message, field="conversation_id")
        return frame.conversation_id
    if frame.conversation_id not in (None, socket_conversation):
        message = f"this socket's notes are for conversation {socket_conversation}"
        raise errors.InvalidCommand(message, field="conversation_id")
    return socket_conversation


async def add_note(
    frame: frames.AddNoteFrame,
    socket_conversation: UUID | None,
    actor: Actor,
    directory: Directory,
    commands: Commands,
) -> None:
    """Answer ADD_NOTE on a conversation's socket (``socket_conversation``)
    or the inbox (None) with an ACK, or with the ERROR of its refusal."""
    try:
        access.require_manage(actor, "add notes")  # first: a client learns nothing more
        conversation_id = _conversation(frame, socket_conversation)
    except errors.DomainError as error:
        commands.refuse(error, frame.ref)
        return

    async def add() -> None:
        try:
            mentions = await resolve_mentions(frame.content, frame.mentions, directory)
        except (errors.DomainError, StoreUnavailable) as error:
            commands.refuse(error, frame.ref)
            return
        command = AddNote(
            conversation_id=conversation_id,
            content=frame.content,
            mentions=mentions,
            command_id=frame.command_id,
        )
        await commands.run(command, frame.ref)

    await commands.limited("message", frame.ref, add)
