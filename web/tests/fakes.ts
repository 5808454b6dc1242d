import { ParleySocket, type SocketLike } from "../src/services/socket";
import type { Conversation } from "../src/types";

/** A WebSocket stand-in the test drives: open it, feed it frames, close it. */
export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closedWith: number | null = null;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // -- driven by the test --
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  receive(frame: Record<string, unknown>): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
  }

  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }

  sentOfType(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === type);
  }
}

export class FakeServer {
  sockets: FakeSocket[] = [];
  factory = (url: string, protocols: string[]): FakeSocket => {
    const socket = new FakeSocket(url, protocols);
    this.sockets.push(socket);
    return socket;
  };
  get last(): FakeSocket {
    const socket = this.sockets[this.sockets.length - 1];
    if (!socket) throw new Error("no socket yet");
    return socket;
  }
}

export function created(seq: number, streamPosition: number, extra: Record<string, unknown> = {}) {
  return {
    type: "MESSAGE_CREATED",
    conversation_id: "c1",
    stream_position: streamPosition,
    position: 100 + streamPosition,
    at: "2026-11-24T10:00:00Z",
    message_id: `m${seq}`,
    seq,
    sender: "client",
    sender_id: "carol",
    message_type: "text",
    content: `message ${seq}`,
    client_message_id: null,
    ...extra,
  };
}

/** An inbox row as the read API gives it: conversation `id`, active, no messages yet. */
export function conversationRow(id: string, extra: Partial<Conversation> = {}): Conversation {
  return {
    conversation_id: id,
    client_id: `c-${id}`,
    client_name: `Client ${id}`,
    channel: "web",
    priority: "Medium",
    status: "active",
    summary: null,
    created_at: "2026-11-24T09:00:00Z",
    last_update: "2026-11-24T09:00:00Z",
    last_message_preview: null,
    last_message_at: null,
    message_count: 0,
    unread_for_staff: 0,
    unread_for_client: 0,
    deleted: false,
    position: 1,
    version: 1,
    ...extra,
  };
}

const opened: ParleySocket[] = [];

/** A conversation socket of c1 on a fake server, READY at version 7 (close it with `closeOpened`). */
export function connectedConversation() {
  const server = new FakeServer();
  const socket = new ParleySocket({ kind: "conversation", url: () => "ws://test/ws/c1", token: () => "tok", createSocket: server.factory });
  opened.push(socket);
  socket.connect();
  server.last.open();
  server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 40 });
  return { server, socket };
}

/** Close every socket `connectedConversation` opened (for an `afterEach`). */
export function closeOpened(): void {
  for (const socket of opened.splice(0)) socket.close();
}
