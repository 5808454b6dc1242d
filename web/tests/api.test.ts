import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError } from "../src/services/api";

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function client(responses: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = responses.shift();
    if (!next) throw new Error("no more responses");
    if (next instanceof Error) throw next;
    return next;
  });
  const onUnauthenticated = vi.fn();
  const api = new ApiClient({
    getToken: () => "tok",
    fetch: fetch as unknown as typeof globalThis.fetch,
    backoff: { base: 1, max: 2 },
    onUnauthenticated,
  });
  return { api, calls, onUnauthenticated };
}

const result = { conversation_id: "c1", position: 7, version: 2, events: ["MessageSent"], replayed: false };

describe("ApiClient", () => {
  it("sends the bearer token and the query's filters", async () => {
    const { api, calls } = client([reply(200, { items: [], next_cursor: null })]);
    await api.listConversations({ status: "active", q: " car " }, { cursor: "abc", limit: 10 });
    expect(calls[0]?.url).toBe("/api/conversations?status=active&q=car&cursor=abc&limit=10");
    expect((calls[0]?.init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("surfaces the server's error code, message and field", async () => {
    const { api } = client([reply(409, { code: "conversation_closed", message: "it is closed" })]);
    const error = await api.sendMessage({ conversation_id: "c1", content: "hi" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "conversation_closed", message: "it is closed" });
  });

  it("does not retry a refusal (4xx), and signs out on unauthenticated", async () => {
    const { api, calls, onUnauthenticated } = client([reply(401, { code: "unauthenticated", message: "expired" })]);
    await expect(api.getConversation("c1")).rejects.toMatchObject({ code: "unauthenticated" });
    expect(calls).toHaveLength(1);
    expect(onUnauthenticated).toHaveBeenCalledOnce();
  });

  it("retries network failures and 5xx with back-off, with the same idempotency key", async () => {
    const { api, calls } = client([
      new TypeError("connection refused"),
      reply(503, { code: "busy", message: "try again" }),
      reply(201, result),
    ]);
    await expect(api.sendMessage({ conversation_id: "c1", content: "hi" })).resolves.toEqual(result);
    expect(calls).toHaveLength(3);
    const keys = calls.map((c) => (JSON.parse(String(c.init.body)) as { client_message_id: string }).client_message_id);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^m-/);
  });

  it("gives up after its retries", async () => {
    const { api, calls } = client([
      reply(503, { code: "not_caught_up", message: "behind" }),
      reply(503, { code: "not_caught_up", message: "behind" }),
      reply(503, { code: "not_caught_up", message: "behind" }),
      reply(503, { code: "not_caught_up", message: "behind" }),
    ]);
    await expect(api.listMessages("c1", { before: 5 })).rejects.toMatchObject({ code: "not_caught_up" });
    expect(calls).toHaveLength(4);
    expect(calls[0]?.url).toBe("/api/messages?conversation_id=c1&before=5");
  });

  it("covers every command endpoint", async () => {
    const { api, calls } = client(Array.from({ length: 8 }, () => reply(200, result)));
    await api.startConversation({ client: { id: "c-1", name: "Carol" }, channel: "web" });
    await api.updateConversation("c1", { priority: "High" });
    await api.changeStatus("c1", "closed", "done");
    await api.snooze("c1", "2026-11-25T09:00:00+01:00");
    await api.deleteConversation("c1");
    await api.markConversationRead("c1", 3);
    await api.markMessagesRead("c1");
    await api.sendMessage({ conversation_id: "c1", content: "x", client_message_id: "mine" });
    expect(calls.map((c) => `${c.init.method} ${c.url.split("?")[0]}`)).toEqual([
      "POST /api/conversations",
      "PUT /api/conversations/c1",
      "PATCH /api/conversations/c1/status",
      "POST /api/conversations/c1/snooze",
      "DELETE /api/conversations/c1",
      "POST /api/conversations/c1/mark-read",
      "PATCH /api/messages/mark-read",
      "POST /api/messages",
    ]);
    expect(JSON.parse(String(calls[3]?.init.body))).toMatchObject({ until: "2026-11-25T09:00:00+01:00" });
    expect(calls[4]?.url).toMatch(/command_id=/);
    for (const call of calls.filter((c) => c.init.body)) {
      const body = JSON.parse(String(call.init.body)) as Record<string, unknown>;
      expect(body.command_id ?? body.client_message_id).toBeTruthy();
    }
    expect(JSON.parse(String(calls[7]?.init.body))).toMatchObject({ client_message_id: "mine" });
  });
});
