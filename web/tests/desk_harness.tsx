/** A fake API (routes by method and path, every call recorded) with a session
 * and a query cache, for the conversation panel's and the top bar's tests. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { vi } from "vitest";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { ApiClient } from "../src/services/api";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown> | null;
}

export type Route = (call: Call) => unknown;

/** `routes` by "METHOD /path": a value, or a function of the call; anything else is 404. */
export function deskApi(routes: Record<string, unknown>, me = "alice") {
  const calls: Call[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const parsed = new URL(String(url), "http://test");
    const call: Call = {
      method: init?.method ?? "GET",
      path: parsed.pathname,
      query: parsed.searchParams,
      body: typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : null,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    if (route === undefined) return new Response(JSON.stringify({ code: "not_found", message: call.path }), { status: 404 });
    const data = typeof route === "function" ? (route as Route)(call) : route;
    if (data instanceof Response) return data;
    return new Response(JSON.stringify(data));
  });
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch, retries: 0 });
  const session: Session = { api, token: "tok", identity: { sub: me, role: "agent", exp: 2e9 }, wsUrl: (path) => `ws://test${path}` };
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  return { calls, api, client, wrapper, of: (method: string, path: string) => calls.filter((c) => c.method === method && c.path === path) };
}

export const result = (position: number) => ({ conversation_id: "c1", position, version: 3, events: ["X"], replayed: false });

/** axe-core in jsdom: structure and names (contrast needs a real browser). */
export async function seriousViolations(root: Element): Promise<string[]> {
  const axe = (await import("axe-core")).default;
  const found = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return found.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}
