"""WebSocket frames: one tagged union each way, JSON, tag field ``type``.

The frames live by family (``ws_edge.client_frames``: what clients send;
``ws_edge.server_frames``: the seed's, assignment's and the control frames;
``ws_edge.workflow_frames``: notes, labels, merges, catalogues); this module
names them all, and holds the unions and the codecs, built once.
docs/PROTOCOL.md documents each frame with an example.
"""

from __future__ import annotations

import msgspec

from ws_edge.client_frames import MAX_MENTIONS as MAX_MENTIONS
from ws_edge.client_frames import AddNoteFrame as AddNoteFrame
from ws_edge.client_frames import AnyClientFrame as AnyClientFrame
from ws_edge.client_frames import ClientFrame as ClientFrame
from ws_edge.client_frames import MarkReadFrame as MarkReadFrame
from ws_edge.client_frames import PingFrame as PingFrame
from ws_edge.client_frames import Ref as Ref
from ws_edge.client_frames import SeenVersion as SeenVersion
from ws_edge.client_frames import SendMessageFrame as SendMessageFrame
from ws_edge.client_frames import SubscribeFrame as SubscribeFrame
from ws_edge.client_frames import TypingStartFrame as TypingStartFrame
from ws_edge.client_frames import TypingStopFrame as TypingStopFrame
from ws_edge.client_frames import UnsubscribeFrame as UnsubscribeFrame
from ws_edge.client_frames import decode_client_frame as decode_client_frame
from ws_edge.server_frames import Ack as Ack
from ws_edge.server_frames import Assigned as Assigned
from ws_edge.server_frames import ConversationRow as ConversationRow
from ws_edge.server_frames import ConversationUpdated as ConversationUpdated
from ws_edge.server_frames import Error as Error
from ws_edge.server_frames import EventFrame as EventFrame
from ws_edge.server_frames import Heartbeat as Heartbeat
from ws_edge.server_frames import MessageCreated as MessageCreated
from ws_edge.server_frames import MessagesRead as MessagesRead
from ws_edge.server_frames import Pong as Pong
from ws_edge.server_frames import Presence as Presence
from ws_edge.server_frames import Ready as Ready
from ws_edge.server_frames import ServerFrame as ServerFrame
from ws_edge.server_frames import StaffChanged as StaffChanged
from ws_edge.server_frames import StatusChanged as StatusChanged
from ws_edge.server_frames import Subscriptions as Subscriptions
from ws_edge.server_frames import Typing as Typing
from ws_edge.server_frames import Unassigned as Unassigned
from ws_edge.workflow_frames import AttachmentChanged as AttachmentChanged
from ws_edge.workflow_frames import CatalogueChanged as CatalogueChanged
from ws_edge.workflow_frames import ClientErased as ClientErased
from ws_edge.workflow_frames import Labelled as Labelled
from ws_edge.workflow_frames import Merged as Merged
from ws_edge.workflow_frames import MergedIn as MergedIn
from ws_edge.workflow_frames import NoteAdded as NoteAdded
from ws_edge.workflow_frames import Notification as Notification
from ws_edge.workflow_frames import NotificationsRead as NotificationsRead
from ws_edge.workflow_frames import Unlabelled as Unlabelled

AnyServerFrame = (
    MessageCreated
    | Assigned
    | Unassigned
    | StaffChanged
    | MessagesRead
    | StatusChanged
    | ConversationUpdated
    | NoteAdded
    | Labelled
    | Unlabelled
    | Merged
    | MergedIn
    | CatalogueChanged
    | AttachmentChanged
    | ClientErased
    | Notification
    | NotificationsRead
    | ConversationRow
    | Typing
    | Presence
    | Subscriptions
    | Ack
    | Error
    | Pong
    | Heartbeat
    | Ready
)
"""Every frame the server sends."""

decode_server_frame = msgspec.json.Decoder(AnyServerFrame).decode
"""For clients and tests: a server frame, typed."""
encode_frame = msgspec.json.Encoder().encode
