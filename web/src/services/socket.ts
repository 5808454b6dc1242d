/** A resilient connection to one of Parley's WebSocket endpoints (docs/PROTOCOL.md).
 *
 * - States: connecting → connected (after READY) → reconnecting … → connected;
 *   disconnected when closed by us or refused for good (4400–4499).
 * - Reconnects with exponential back-off and jitter, resuming after the last
 *   event position seen; replayed or re-delivered events are dropped by position.
 * - SEND_MESSAGE frames are queued while offline and sent, in order, after each
 *   READY until their ACK arrives; they carry their client_message_id, so a
 *   resend is answered with the first ACK and never stores a second message.
 * - A 4401 (the token expired) after the token was refreshed (`options.token()`
 *   gives another) resumes with the new token at once; otherwise it is final.
 * - Heartbeat: answers the server's HEARTBEAT, pings when idle, and drops a
 *   socket that has been silent for too long.
 */
import { backoffDelay } from "./backoff";
import { Heartbeat } from "./heartbeat";
import { Outbox } from "./outbox";
import { isFatalClose } from "./socketTypes";
import type { ConnectionState, ParleySocketOptions, SendFailure, SocketFactory, SocketLike } from "./socketTypes";
import {
  isEventFrame,
  type AckFrame,
  type ClientFrame,
  type ErrorFrame,
  type EventFrame,
  type ReadyFrame,
  type SendMessageFrame,
  type ServerFrame,
} from "../types";

export { isFatalClose, socketUrl } from "./socketTypes";
export type { ConnectionState, ParleySocketOptions, SendFailure, SocketFactory, SocketLike } from "./socketTypes";

type Listener<T> = (value: T) => void;

function listen<T>(set: Set<Listener<T>>, listener: Listener<T>): () => void {
  set.add(listener);
  return () => set.delete(listener);
}

const OPEN = 1;
const NORMAL = 1000;
const UNAUTHENTICATED = 4401;

export class ParleySocket {
  state: ConnectionState = "disconnected";
  /** The close code that stopped us for good (4401: sign in again), if any. */
  fatalCode: number | null = null;
  lastPosition = 0;
  attempts = 0;
  /** The last READY (on a staff conversation socket: who was online then). */
  lastReady: ReadyFrame | null = null;

  private socket: SocketLike | null = null;
  private ready = false;
  private stopped = true;
  private closing = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** The token the current socket was opened with (a refreshed one reconnects on 4401). */
  private openedWith: string | null = null;
  private readonly heartbeat: Heartbeat;
  private readonly outbox = new Outbox();

  private readonly stateListeners = new Set<Listener<ConnectionState>>();
  private readonly eventListeners = new Set<Listener<EventFrame>>();
  private readonly frameListeners = new Set<Listener<ServerFrame>>();
  private readonly ackListeners = new Set<Listener<AckFrame>>();
  private readonly failureListeners = new Set<Listener<SendFailure>>();

  constructor(private readonly options: ParleySocketOptions) {
    this.lastPosition = options.after ?? 0;
    const silent = () => {
      this.dropSocket(4000);
      if (!this.stopped) this.scheduleRetry();
    };
    const ping = () => this.transmit({ type: "PING" });
    this.heartbeat = new Heartbeat(ping, silent, options.pingEveryMs, options.silenceLimitMs);
  }

  // -- subscriptions -------------------------------------------------------------------

  onState = (listener: Listener<ConnectionState>) => listen(this.stateListeners, listener);
  /** Event frames, each exactly once, in order. */
  onEvent = (listener: Listener<EventFrame>) => listen(this.eventListeners, listener);
  /** Every other frame (READY, TYPING, PRESENCE, CONVERSATION_ROW, ERROR, …). */
  onFrame = (listener: Listener<ServerFrame>) => listen(this.frameListeners, listener);
  onAck = (listener: Listener<AckFrame>) => listen(this.ackListeners, listener);
  onSendFailed = (listener: Listener<SendFailure>) => listen(this.failureListeners, listener);

  // -- life ----------------------------------------------------------------------------

  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.fatalCode = null;
    this.open("connecting");
  }

  /** Reconnect now (a manual retry): forget the back-off. */
  reconnect(): void {
    this.stopped = false;
    this.fatalCode = null;
    this.attempts = 0;
    this.clearRetry();
    this.dropSocket();
    this.open("reconnecting");
  }

  close(): void {
    this.stopped = true;
    this.closing = false;
    this.clearRetry();
    this.dropSocket(NORMAL);
    this.outbox.stopTimers();
    this.setState("disconnected");
  }

  /** Close once every queued message is acknowledged (leaving a conversation
   * with a message still queued offline must not lose it). */
  closeWhenSent(): void {
    this.closing = true;
    if (this.outbox.size === 0) this.close();
  }

  get queued(): SendMessageFrame[] {
    return this.outbox.frames();
  }

  // -- sending -------------------------------------------------------------------------

  /** Queue a message: sent now when connected, else after the next READY, until ACKed. */
  sendMessage(frame: SendMessageFrame): void {
    const queued = this.outbox.add(frame);
    if (this.ready) this.transmit(queued);
  }

  /** Send a frame now if connected; ephemeral frames (typing, mark read) are dropped offline. */
  send(frame: ClientFrame): boolean {
    if (!this.ready) return false;
    this.transmit(frame);
    return true;
  }

  private transmit(frame: ClientFrame): void {
    if (this.socket?.readyState !== OPEN) return;
    this.socket.send(JSON.stringify(frame));
    this.heartbeat.sent();
  }

  // -- internals -----------------------------------------------------------------------

  private open(state: ConnectionState): void {
    this.setState(state);
    const token = this.options.token();
    this.openedWith = token;
    const protocols = ["parley.v1", ...(token ? [`bearer.${token}`] : [])];
    const create: SocketFactory =
      this.options.createSocket ?? ((url, list) => new WebSocket(url, list) as SocketLike);
    let socket: SocketLike;
    try {
      socket = create(this.options.url(this.lastPosition), protocols);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    this.ready = false;
    socket.onopen = () => {
      this.heartbeat.start();
    };
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receive(String(event.data));
    };
    socket.onerror = () => undefined; // a close follows
    socket.onclose = (event) => {
      if (socket === this.socket) this.closed(event.code);
    };
  }

  private closed(code: number): void {
    this.socket = null;
    this.ready = false;
    this.heartbeat.stop();
    if (this.stopped) return;
    const token = this.options.token();
    if (code === UNAUTHENTICATED && token !== null && token !== this.openedWith) {
      // Closed at the old token's expiry, and a refreshed one is here: resume with it now.
      this.attempts = 0;
      this.open("reconnecting");
      return;
    }
    if (isFatalClose(code)) {
      this.stopped = true;
      this.fatalCode = code;
      this.setState("disconnected");
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.setState("reconnecting");
    const delay = backoffDelay(this.attempts, this.options.backoff ?? { base: 500, max: 10_000 });
    this.attempts += 1;
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open("reconnecting");
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private dropSocket(code?: number): void {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    this.heartbeat.stop();
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      try {
        socket.close(code ?? NORMAL);
      } catch {
        // already closed
      }
    }
  }

  private receive(text: string): void {
    this.heartbeat.heard();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (isEventFrame(frame)) {
      const position = this.options.kind === "inbox" ? frame.position : frame.stream_position;
      if (position <= this.lastPosition) return; // already seen (at-least-once delivery)
      this.lastPosition = position;
      if (frame.type === "MESSAGE_CREATED" && frame.client_message_id) {
        this.settle(frame.client_message_id);
      }
      for (const listener of this.eventListeners) listener(frame);
      return;
    }
    switch (frame.type) {
      case "READY": {
        const position = this.options.kind === "inbox" ? frame.position : (frame.stream_position ?? 0);
        this.lastPosition = Math.max(this.lastPosition, position);
        this.ready = true;
        this.lastReady = frame;
        this.attempts = 0;
        this.setState("connected");
        for (const queued of this.outbox.frames()) this.transmit(queued);
        break;
      }
      case "ACK":
        if (frame.client_message_id) this.settle(frame.client_message_id);
        for (const listener of this.ackListeners) listener(frame);
        break;
      case "ERROR":
        this.refused(frame);
        break;
      case "HEARTBEAT":
        this.transmit({ type: "PING" });
        break;
      default:
        break;
    }
    for (const listener of this.frameListeners) listener(frame);
  }

  private settle(clientMessageId: string): void {
    this.outbox.settle(clientMessageId);
    if (this.closing && this.outbox.size === 0) this.close();
  }

  private refused(error: ErrorFrame): void {
    const found = this.outbox.refused(error, (frame) => {
      if (this.ready) this.transmit(frame);
    });
    if (!found || found.later) return;
    const clientMessageId = found.frame.client_message_id;
    this.settle(clientMessageId);
    for (const listener of this.failureListeners) listener({ clientMessageId, error });
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
