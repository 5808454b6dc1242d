/** The shapes around a ParleySocket: its states, what it runs on, its options. */
import type { ErrorFrame } from "../types";

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

export function isFatalClose(code: number): boolean {
  return code >= 4400 && code <= 4499;
}

/** The ws:// URL of a path on the page's own server. */
export function socketUrl(path: string, query: Record<string, number>, base: Location = window.location): string {
  const scheme = base.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return `${scheme}//${base.host}${path}?${params.toString()}`;
}
