/** The API client's parts: its options, its error (the server's stable
 * `code`), query strings, and the session refresh's answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Worth retrying: the network failed (status 0) or the server is busy / behind. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** `POST /api/session/refresh`'s answer (docs/COMMANDS.md, "Sessions"). */
export interface RefreshedSession {
  token: string;
  expires_at: string;
  session_ends_at: string;
}

export interface ApiOptions {
  baseUrl?: string;
  getToken: () => string | null;
  fetch?: typeof fetch;
  retries?: number;
  backoff?: { base: number; max: number; random?: () => number };
  onUnauthenticated?: () => void;
}
