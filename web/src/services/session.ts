/** The signed-in token, kept in localStorage, and what it says about its holder. */
const KEY = "parley.token";

export interface Identity {
  sub: string;
  role: string;
  exp: number;
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
    return { sub: claims.sub, role: claims.role, exp: claims.exp };
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
