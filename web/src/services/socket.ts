/** A resilient connection to one of Parley's WebSocket endpoints (docs/PROTOCOL.md).
 *
 * - States: connecting → connected (after READY) → reconnecting … → connected;
 *   disconnected when closed by us or refused for good (4400–4499).
 * - Reconnects with exponential back-off and jitter, resuming after the last
 *   event position seen; replayed or re-delivered events are dropped by position.
 * - SEND_MESSAGE frames are queued while offline and sent, in order, after each
 *   READY until their ACK arrives; they carry their client_message_id, so a
 *   resend is answered with the first ACK and never stores a second message.
 * - Heartbeat: answers the server's HEARTBEAT, pings when idle, and drops a
 *   socket that has been silent for too long.
 */
import { backoffDelay } from "./backoff";
import {
  isEventFrame,
  type AckFrame,
  type ClientFrame,
  type ErrorFrame,
  type EventFrame,
  type SendMessageFrame,
  type ServerFrame,
} from "../types";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export interface ParleySocketOptions {
  /** The endpoint's URL for a resume after `after` (a position). */
  url: (after: number) => string;
  token: () => string | null;
  /** Which position orders this endpoint's events (conversation: stream_position; inbox: position). */
  kind: "conversation" | "inbox";
  /** Start after this position (events up to it are known already). */
  after?: number;
  createSocket?: SocketFactory;
  backoff?: { base: number; max: number; random?: () => number };
  /** Ping when nothing was sent for this long. */
  pingEveryMs?: number;
  /** Reconnect when nothing was heard for this long. */
  silenceLimitMs?: number;
}

export interface SendFailure {
  clientMessageId: string;
  error: ErrorFrame;
}

type Listener<T> = (value: T) => void;

const OPEN = 1;
const NORMAL = 1000;

export function isFatalClose(code: number): boolean {
  return code >= 4400 && code <= 4499;
}

export class ParleySocket {
  state: ConnectionState = "disconnected";
  /** The close code that stopped us for good (4401: sign in again), if any. */
  fatalCode: number | null = null;
  lastPosition = 0;
  attempts = 0;

  private socket: SocketLike | null = null;
  private ready = false;
  private stopped = true;
  private closing = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastSent = 0;
  private lastHeard = 0;
  /** Un-ACKed SEND_MESSAGE frames, in the order they were sent. */
  private readonly pending = new Map<string, SendMessageFrame>();
  private readonly retryAt = new Map<string, ReturnType<typeof setTimeout>>();

  private readonly stateListeners = new Set<Listener<ConnectionState>>();
  private readonly eventListeners = new Set<Listener<EventFrame>>();
  private readonly frameListeners = new Set<Listener<ServerFrame>>();
  private readonly ackListeners = new Set<Listener<AckFrame>>();
  private readonly failureListeners = new Set<Listener<SendFailure>>();

  constructor(private readonly options: ParleySocketOptions) {
    this.lastPosition = options.after ?? 0;
  }

  // -- subscriptions -------------------------------------------------------------------

  onState(listener: Listener<ConnectionState>): () => void {
    return this.listen(this.stateListeners, listener);
  }
  /** Event frames, each exactly once, in order. */
  onEvent(listener: Listener<EventFrame>): () => void {
    return this.listen(this.eventListeners, listener);
  }
  /** Every other frame (READY, TYPING, CONVERSATION_ROW, ERROR, …). */
  onFrame(listener: Listener<ServerFrame>): () => void {
    return this.listen(this.frameListeners, listener);
  }
  onAck(listener: Listener<AckFrame>): () => void {
    return this.listen(this.ackListeners, listener);
  }
  onSendFailed(listener: Listener<SendFailure>): () => void {
    return this.listen(this.failureListeners, listener);
  }

  private listen<T>(set: Set<Listener<T>>, listener: Listener<T>): () => void {
    set.add(listener);
    return () => set.delete(listener);
  }

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
    for (const timer of this.retryAt.values()) clearTimeout(timer);
    this.retryAt.clear();
    this.setState("disconnected");
  }

  /** Close once every queued message is acknowledged (leaving a conversation
   * with a message still queued offline must not lose it). */
  closeWhenSent(): void {
    this.closing = true;
    if (this.pending.size === 0) this.close();
  }

  get queued(): SendMessageFrame[] {
    return [...this.pending.values()];
  }

  // -- sending -------------------------------------------------------------------------

  /** Queue a message: sent now when connected, else after the next READY, until ACKed. */
  sendMessage(frame: SendMessageFrame): void {
    const queued = { ...frame, ref: frame.client_message_id };
    this.pending.set(frame.client_message_id, queued);
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
    this.lastSent = Date.now();
  }

  // -- internals -----------------------------------------------------------------------

  private open(state: ConnectionState): void {
    this.setState(state);
    const token = this.options.token();
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
      this.lastHeard = Date.now();
      this.startHeartbeat();
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
    this.stopHeartbeat();
    if (this.stopped) return;
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
    this.stopHeartbeat();
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
    this.lastHeard = Date.now();
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
        this.attempts = 0;
        this.setState("connected");
        for (const queued of this.pending.values()) this.transmit(queued);
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
    this.pending.delete(clientMessageId);
    const timer = this.retryAt.get(clientMessageId);
    if (timer !== undefined) clearTimeout(timer);
    this.retryAt.delete(clientMessageId);
    if (this.closing && this.pending.size === 0) this.close();
  }

  private refused(error: ErrorFrame): void {
    const queued = error.ref ? this.pending.get(error.ref) : undefined;
    if (!queued) return;
    if (error.code === "rate_limited" || error.code === "busy") {
      const wait = Math.max(0.5, error.retry_after ?? 1) * 1000;
      this.retryAt.set(
        queued.client_message_id,
        setTimeout(() => {
          this.retryAt.delete(queued.client_message_id);
          if (this.ready && this.pending.has(queued.client_message_id)) this.transmit(queued);
        }, wait),
      );
      return;
    }
    this.settle(queued.client_message_id);
    for (const listener of this.failureListeners) {
      listener({ clientMessageId: queued.client_message_id, error });
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const pingEvery = this.options.pingEveryMs ?? 20_000;
    const silenceLimit = this.options.silenceLimitMs ?? 75_000;
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastHeard > silenceLimit) {
        // Nothing heard for too long: the connection is dead without a close.
        this.dropSocket(4000);
        if (!this.stopped) this.scheduleRetry();
        return;
      }
      if (now - this.lastSent >= pingEvery) this.transmit({ type: "PING" });
    }, Math.min(pingEvery, 5_000));
  }

  private stopHeartbeat(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

/** The ws:// URL of a path on the page's own server. */
export function socketUrl(path: string, query: Record<string, number>, base: Location = window.location): string {
  const scheme = base.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return `${scheme}//${base.host}${path}?${params.toString()}`;
}
