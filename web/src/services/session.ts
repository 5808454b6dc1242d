/** The signed-in token, kept in localStorage, and what it says about its holder. */
const KEY = "parley.token";

export interface Identity {
  sub: string;
  role: string;
  exp: number;
  /** When the token was issued (seconds), when it says. */
  iat?: number;
}

export function decodeToken(token: string): Identity | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as Partial<Identity>;
    if (typeof claims.sub !== "string" || typeof claims.role !== "string" || typeof claims.exp !== "number") {
      return null;
    }
    const identity: Identity = { sub: claims.sub, role: claims.role, exp: claims.exp };
    if (typeof claims.iat === "number") identity.iat = claims.iat;
    return identity;
  } catch {
    return null;
  }
}

export function loadToken(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string | null): void {
  if (token === null) localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, token);
}

/** The storage key tokens are saved under (another tab's refresh shows up as a `storage` event on it). */
export const TOKEN_KEY = KEY;

/** The current token of a signed-in session, swapped in place when it is
 * refreshed: whoever holds it (the API client, the sockets) reads the new one
 * at its next use, so nothing is rebuilt and no state is lost. */
export class TokenHolder {
  private current: string;
  private readonly listeners = new Set<(token: string) => void>();

  constructor(token: string) {
    this.current = token;
  }

  get = (): string => this.current;

  /** Swap the token; listeners hear of it. */
  set(token: string): void {
    if (token === this.current) return;
    this.current = token;
    for (const listener of this.listeners) listener(token);
  }

  subscribe(listener: (token: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** How long before `exp` to refresh: a tenth of the token's life, between
 * 30 s and 5 min, and never more than half of it (a short token is not
 * refreshed over and over). */
export function refreshLead(identity: Identity): number {
  const life = identity.iat !== undefined ? (identity.exp - identity.iat) * 1000 : 3_600_000;
  return Math.min(300_000, Math.max(30_000, life / 10), life / 2);
}

/** Milliseconds from `now` until the token should be refreshed (0: now). */
export function refreshDelay(identity: Identity, now: number = Date.now()): number {
  return Math.max(0, identity.exp * 1000 - refreshLead(identity) - now);
}
