import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay } from "../src/services/backoff";
import { ParleySocket } from "../src/services/socket";
import type { EventFrame } from "../src/types";
import { created, FakeServer } from "./fakes";

function setup(random = () => 0.5) {
  const server = new FakeServer();
  const socket = new ParleySocket({
    kind: "conversation",
    url: (after) => `ws://test/ws/c1?after=${after}`,
    token: () => "tok",
    createSocket: server.factory,
    backoff: { base: 100, max: 1000, random },
  });
  const events: EventFrame[] = [];
  socket.onEvent((e) => events.push(e));
  const states: string[] = [];
  socket.onState((s) => states.push(s));
  return { server, socket, events, states };
}

function ready(server: FakeServer, streamPosition: number) {
  server.last.open();
  server.last.receive({ type: "READY", conversation_id: "c1", stream_position: streamPosition, position: 0 });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("back-off", () => {
  it("doubles the ceiling each attempt, with jitter, capped", () => {
    const low = (n: number) => backoffDelay(n, { base: 100, max: 1000, random: () => 0 });
    const high = (n: number) => backoffDelay(n, { base: 100, max: 1000, random: () => 1 });
    expect([0, 1, 2, 3, 4, 5].map(low)).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 5].map(high)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("waits longer after each failed attempt, and starts over once READY", () => {
    const { server, socket, states } = setup(() => 1);
    socket.connect();
    expect(states).toEqual(["connecting"]);
    server.last.drop();
    expect(states.at(-1)).toBe("reconnecting");
    expect(server.sockets).toHaveLength(1);
    vi.advanceTimersByTime(99);
    expect(server.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(server.sockets).toHaveLength(2);
    server.last.drop();
    vi.advanceTimersByTime(199);
    expect(server.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(server.sockets).toHaveLength(3);
    ready(server, 0);
    expect(states.at(-1)).toBe("connected");
    expect(socket.attempts).toBe(0);
  });

  it("offers the token as a subprotocol, never in the URL", () => {
    const { server, socket } = setup();
    socket.connect();
    expect(server.last.protocols).toEqual(["parley.v1", "bearer.tok"]);
    expect(server.last.url).not.toContain("tok");
  });

  it("does not retry after a 44xx close, nor after close()", () => {
    const { server, socket, states } = setup();
    socket.connect();
    server.last.drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(server.sockets).toHaveLength(1);
    expect(states.at(-1)).toBe("disconnected");
    expect(socket.fatalCode).toBe(4401);

    socket.reconnect();
    ready(server, 0);
    socket.close();
    vi.advanceTimersByTime(60_000);
    expect(server.sockets).toHaveLength(2);
    expect(server.last.closedWith).toBe(1000);
  });
});

describe("resume", () => {
  it("reconnects after the last event seen and drops what it has already seen", () => {
    const { server, socket, events } = setup();
    socket.connect();
    expect(server.last.url).toBe("ws://test/ws/c1?after=0");
    server.last.open();
    server.last.receive(created(1, 2));
    server.last.receive(created(2, 3));
    server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 3, position: 0 });
    server.last.drop(1001);
    vi.advanceTimersByTime(1000);
    expect(server.last.url).toBe("ws://test/ws/c1?after=3");
    server.last.open();
    server.last.receive(created(2, 3)); // a duplicate (at-least-once)
    server.last.receive(created(3, 4));
    expect(events.map((e) => e.stream_position)).toEqual([2, 3, 4]);
  });

  it("the inbox resumes by global position", () => {
    const server = new FakeServer();
    const inbox = new ParleySocket({
      kind: "inbox",
      after: 500,
      url: (after) => `ws://test/ws/inbox?after_position=${after}`,
      token: () => "tok",
      createSocket: server.factory,
    });
    const seen: number[] = [];
    inbox.onEvent((e) => seen.push(e.position));
    inbox.connect();
    expect(server.last.url).toContain("after_position=500");
    server.last.open();
    server.last.receive(created(1, 1, { position: 499 }));
    server.last.receive(created(1, 2, { position: 501 }));
    server.last.receive({ type: "READY", position: 501 });
    expect(seen).toEqual([501]);
  });
});

describe("offline queue", () => {
  const send = (socket: ParleySocket, id: string) =>
    socket.sendMessage({ type: "SEND_MESSAGE", content: `text ${id}`, client_message_id: id });

  it("sends queued messages in order after READY, each with its client_message_id", () => {
    const { server, socket } = setup();
    socket.connect();
    send(socket, "a");
    send(socket, "b");
    server.last.open();
    expect(server.last.sent).toEqual([]); // not before READY
    send(socket, "c");
    server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 0, position: 0 });
    expect(server.last.sentOfType("SEND_MESSAGE").map((f) => f.client_message_id)).toEqual(["a", "b", "c"]);
    expect(server.last.sentOfType("SEND_MESSAGE").map((f) => f.ref)).toEqual(["a", "b", "c"]);
  });

  it("resends only what was not acknowledged, and nothing twice once ACKed", () => {
    const { server, socket } = setup();
    socket.connect();
    ready(server, 0);
    send(socket, "a");
    send(socket, "b");
    send(socket, "c");
    server.last.receive({ type: "ACK", client_message_id: "a", message_id: "x", seq: 1, position: 9, replayed: false });
    server.last.drop();
    send(socket, "d"); // typed while offline
    vi.advanceTimersByTime(1000);
    // b was stored before the drop: its MESSAGE_CREATED comes in the replay.
    server.last.open();
    server.last.receive(created(2, 2, { client_message_id: "b", sender: "admin" }));
    server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 2, position: 0 });
    expect(server.last.sentOfType("SEND_MESSAGE").map((f) => f.client_message_id)).toEqual(["c", "d"]);
    server.last.receive({ type: "ACK", client_message_id: "c", message_id: "y", seq: 3, position: 10, replayed: false });
    server.last.receive({ type: "ACK", client_message_id: "d", message_id: "z", seq: 4, position: 11, replayed: false });
    expect(socket.queued).toEqual([]);
    server.last.drop();
    vi.advanceTimersByTime(1000);
    ready(server, 4);
    expect(server.last.sentOfType("SEND_MESSAGE")).toEqual([]);
  });

  it("reports a refused message and forgets it; retries one that was rate limited", () => {
    const { server, socket } = setup();
    const failures: string[] = [];
    socket.onSendFailed((f) => failures.push(`${f.clientMessageId}:${f.error.code}`));
    socket.connect();
    ready(server, 0);
    send(socket, "a");
    send(socket, "b");
    server.last.receive({ type: "ERROR", code: "conversation_closed", message: "closed", ref: "a" });
    server.last.receive({ type: "ERROR", code: "rate_limited", message: "slow down", ref: "b", retry_after: 2 });
    expect(failures).toEqual(["a:conversation_closed"]);
    expect(socket.queued.map((f) => f.client_message_id)).toEqual(["b"]);
    vi.advanceTimersByTime(2000);
    expect(server.last.sentOfType("SEND_MESSAGE").map((f) => f.client_message_id)).toEqual(["a", "b", "b"]);
  });

  it("drops ephemeral frames while offline", () => {
    const { server, socket } = setup();
    socket.connect();
    expect(socket.send({ type: "TYPING_START" })).toBe(false);
    ready(server, 0);
    expect(socket.send({ type: "TYPING_START" })).toBe(true);
    expect(server.last.sentOfType("TYPING_START")).toHaveLength(1);
  });
});

describe("heartbeat", () => {
  it("answers HEARTBEAT with PING, pings when idle, and reconnects when the server goes silent", () => {
    const server = new FakeServer();
    const socket = new ParleySocket({
      kind: "conversation",
      url: (after) => `ws://test/ws/c1?after=${after}`,
      token: () => "tok",
      createSocket: server.factory,
      pingEveryMs: 1000,
      silenceLimitMs: 5000,
      backoff: { base: 100, max: 100, random: () => 1 },
    });
    socket.connect();
    ready(server, 0);
    server.last.receive({ type: "HEARTBEAT" });
    expect(server.last.sentOfType("PING")).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(server.last.sentOfType("PING").length).toBeGreaterThanOrEqual(2);
    const first = server.last;
    vi.advanceTimersByTime(5000); // nothing heard
    expect(first.closedWith).toBe(4000);
    vi.advanceTimersByTime(100);
    expect(server.sockets).toHaveLength(2);
  });
});

describe("leaving", () => {
  it("closeWhenSent keeps the socket until queued messages are acknowledged", () => {
    const { server, socket } = setup();
    socket.connect();
    socket.sendMessage({ type: "SEND_MESSAGE", content: "late", client_message_id: "a" });
    socket.closeWhenSent();
    ready(server, 0);
    expect(server.last.sentOfType("SEND_MESSAGE")).toHaveLength(1);
    expect(server.last.closedWith).toBeNull();
    server.last.receive({ type: "ACK", client_message_id: "a", message_id: "x", seq: 1, position: 1, replayed: false });
    expect(server.last.closedWith).toBe(1000);
    expect(socket.state).toBe("disconnected");
  });
});

describe("frames this client does not use", () => {
  it("are passed over quietly: no throw, no console error, and later events still arrive", () => {
    const { server, socket, events } = setup();
    const errors = vi.spyOn(console, "error");
    const warnings = vi.spyOn(console, "warn");
    const frames: string[] = [];
    socket.onFrame((f) => frames.push(f.type));
    socket.connect();
    ready(server, 0);
    const at = { conversation_id: "c1", at: "2026-11-24T10:00:00Z" };
    const unknown = [
      { type: "NOTE_ADDED", ...at, stream_position: 1, position: 101, note_id: "n1", author_id: "bob", author_name: "Bob", content: "psst", mentions: ["alice"] },
      { type: "LABELLED", ...at, stream_position: 2, position: 102, label_id: "vip", by: "bob" },
      { type: "UNLABELLED", ...at, stream_position: 3, position: 103, label_id: "vip", by: "bob" },
      { type: "MERGED", ...at, stream_position: 4, position: 104, into: "c2", up_to_seq: 3 },
      { type: "MERGED_IN", ...at, stream_position: 5, position: 105, source_id: "c0", message_count: 0 },
      { type: "NOTIFICATION", notification_id: "x", position: 106 },
      { type: "NOTIFICATIONS_READ", up_to_position: 106 },
      { type: "CATALOGUE_CHANGED", catalogue: "labels", position: 107 },
    ];
    for (const frame of unknown) expect(() => server.last.receive(frame)).not.toThrow();
    server.last.receive(created(1, 6));
    server.last.receive({ ...at, type: "STATUS_CHANGED", stream_position: 7, position: 108, from: "active", to: "snoozed", reason: null, until: "2026-11-25T09:00:00Z" });
    expect(events.map((e) => e.type)).toEqual(["MESSAGE_CREATED", "STATUS_CHANGED"]);
    expect(frames).toContain("NOTE_ADDED"); // handed on to frame listeners, which ignore what they do not know
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
    expect(socket.state).toBe("connected");
  });
});
