/** Keeps a signed-in session's token fresh: refreshes it shortly before it
 * expires (`POST /api/session/refresh`) and swaps it in place (TokenHolder),
 * so nothing reloads and no state is lost. Network failures retry with
 * back-off until the token expires; a refusal (the session is over) lets the
 * token run out. At expiry: `onExpired`. Also adopts a fresher token another
 * tab saved for the same person, and looks again when the page becomes
 * visible (timers are late after a laptop slept). */
import { useEffect } from "react";
import { ApiError, type ApiClient } from "../services/api";
import { backoffDelay } from "../services/backoff";
import { decodeToken, refreshDelay, saveToken, TOKEN_KEY, type TokenHolder } from "../services/session";

const LONGEST_TIMER = 2 ** 31 - 1;

export function useSessionRefresh(holder: TokenHolder, api: ApiClient, onExpired: () => void): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let busy = false;
    let stopped = false;
    let failures = 0;
    let refused: string | null = null; // the token whose refresh was refused

    const schedule = () => {
      clearTimeout(timer);
      const identity = decodeToken(holder.get());
      if (!identity || stopped) return;
      const left = identity.exp * 1000 - Date.now();
      if (left <= 0) {
        onExpired();
        return;
      }
      const wait =
        refused === holder.get()
          ? left // nothing to do but wait for the end
          : failures > 0
            ? Math.min(left, backoffDelay(failures - 1, { base: 2_000, max: 60_000 }))
            : refreshDelay(identity);
      timer = setTimeout(() => void tick(), Math.min(wait, LONGEST_TIMER));
    };

    const tick = async () => {
      const token = holder.get();
      const identity = decodeToken(token);
      if (busy || !identity || identity.exp * 1000 <= Date.now() || refused === token) {
        schedule();
        return;
      }
      busy = true;
      try {
        const fresh = await api.refreshSession();
        failures = 0;
        const next = decodeToken(fresh.token);
        const same = next !== null && next.sub === identity.sub && next.role === identity.role;
        if (!same) throw new ApiError(401, "unauthenticated", "the refreshed token names someone else");
        if (!stopped && holder.get() === token) {
          saveToken(fresh.token);
          holder.set(fresh.token); // re-schedules (subscribed below)
          return;
        }
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) refused = token;
        else failures += 1;
      } finally {
        busy = false;
      }
      schedule();
    };

    const offToken = holder.subscribe(schedule);
    const onVisible = () => {
      if (document.visibilityState === "visible") schedule();
    };
    const onStorage = (event: StorageEvent) => {
      if (event.key !== TOKEN_KEY || !event.newValue) return;
      const theirs = decodeToken(event.newValue);
      const mine = decodeToken(holder.get());
      if (theirs && mine && theirs.sub === mine.sub && theirs.role === mine.role && theirs.exp > mine.exp) {
        holder.set(event.newValue);
      }
    };
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("storage", onStorage);
    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
      offToken();
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("storage", onStorage);
    };
  }, [holder, api, onExpired]);
}
