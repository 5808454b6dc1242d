/** What the composer and timeline tests share: a signed-in session over a fake
 * fetch (answers by method and path), and a fake XMLHttpRequest for uploads. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { vi } from "vitest";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { ApiClient } from "../src/services/api";

export type Route = (method: string, path: string, query: URLSearchParams, body: unknown) => unknown;
export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

/** A session whose API answers `route(...)` as JSON (a `Response` as it is; undefined: 404). */
export function fakeSession(route: Route) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const parsed = new URL(String(url), "http://test");
    const method = init?.method ?? "GET";
    const body = init?.body ? JSON.parse(String(init.body)) : null;
    calls.push({ method, path: parsed.pathname, query: parsed.searchParams, body });
    const answer = route(method, parsed.pathname, parsed.searchParams, body);
    if (answer instanceof Response) return answer;
    if (answer === undefined) return new Response(JSON.stringify({ code: "not_found", message: parsed.pathname }), { status: 404 });
    return new Response(JSON.stringify(answer));
  });
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch, retries: 0 });
  const session: Session = { api, token: "tok", identity: { sub: "alice", role: "admin", exp: 2e9 }, wsUrl: (path) => `ws://test${path}` };
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  return { calls, wrapper, api };
}

/** An XMLHttpRequest stand-in the test drives: progress, then an answer. */
export class FakeXhr {
  static made: FakeXhr[] = [];
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  responseText = "";
  aborted = false;
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.made.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  // -- driven by the test --
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total } as ProgressEvent);
  }
  answer(status: number, data: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(data);
    this.onload?.();
  }
}

export const uploaded = (id: string, name: string, mime = "image/png") => ({
  attachment_id: id,
  conversation_id: "c1",
  name,
  mime_type: mime,
  size: 2048,
  status: "checking",
});
