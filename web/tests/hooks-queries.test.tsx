/** Hooks that read the API (the fake fetch of desk_harness.tsx behind the real
 * ApiClient): the timeline's status entries and notes, signed attachment URLs,
 * a client's conversations, the panel's commands, and staff names. */
import type { InfiniteData } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useAttachmentUrl } from "../src/hooks/useAttachmentUrl";
import { clientConversationsKey, useClientConversations } from "../src/hooks/useClientConversations";
import { noteFromItem, useNotes } from "../src/hooks/useNotes";
import { failure, usePanelAction } from "../src/hooks/usePanelAction";
import { useStaffNames } from "../src/hooks/useStaffNames";
import { useStatusEntries } from "../src/hooks/useStatusEntries";
import { keys } from "../src/lib/cache";
import { ApiError } from "../src/services/api";
import type { Conversation, ConversationPage } from "../src/types";
import { deskApi, result } from "./desk_harness";
import { closeOpened, connectedConversation, conversationRow } from "./fakes";

afterEach(() => {
  closeOpened();
  vi.useRealTimers();
});

const connected = connectedConversation;

const refused = (status: number, code: string) => new Response(JSON.stringify({ code, message: `refused: ${code}` }), { status });
const system = (position: number, event_type: string) => ({ kind: "system", conversation_id: "c1", position, created_at: "2026-11-24T10:00:00Z", event_type, by: "bob", by_name: "Bob Stone", details: {} });
const note = (position: number, content: string) => ({ kind: "note", note_id: `n${position}`, author_id: "bob", author_name: "Bob Stone", content, mentions: [], position, created_at: "2026-11-24T10:00:00Z" });

describe("useStatusEntries and useNotes: one read of the staff timeline", () => {
  /** Two pages of timeline from `after` 0: status entries, notes, and entries of other kinds. */
  const pages: Record<string, unknown> = {
    "0": { items: [system(10, "ConversationStatusChanged"), note(15, "VIP"), system(18, "ConversationAssigned"), { kind: "message", position: 19 }], next_after: 20, reached: 30 },
    "20": { items: [note(22, "called back"), system(25, "ConversationSnoozed"), system(28, "ConversationWoke")], next_after: null, reached: 30 },
  };
  const timeline = (desk: ReturnType<typeof deskApi>) => desk.of("GET", "/api/conversations/c1/timeline");

  function both(from: number | null, routes: Record<string, unknown> = {}) {
    const desk = deskApi({ "GET /api/conversations/c1/timeline": (call: { query: URLSearchParams }) => pages[call.query.get("after") ?? ""], ...routes });
    const { server, socket } = connected();
    const hook = renderHook(({ at }: { at: number | null }) => ({ entries: useStatusEntries("c1", socket, at), notes: useNotes("c1", socket, at) }), {
      wrapper: desk.wrapper,
      initialProps: { at: from },
    });
    return { desk, server, ...hook };
  }

  it("reads every page from the oldest message shown, keeping the status entries, handing the notes over", async () => {
    const { desk, result: hook } = both(0);
    await waitFor(() => expect(hook.current.entries.map((e) => e.position)).toEqual([10, 25, 28]));
    expect(hook.current.entries.map((e) => e.event_type)).toEqual(["ConversationStatusChanged", "ConversationSnoozed", "ConversationWoke"]);
    await waitFor(() => expect(hook.current.notes.notes.map((n) => [n.note_id, n.content, n.conversation_id])).toEqual([["n15", "VIP", "c1"], ["n22", "called back", "c1"]]));
    expect(timeline(desk).map((c) => [c.query.get("after"), c.query.get("limit")])).toEqual([["0", "100"], ["20", "100"]]);
  });

  it("reads nothing until it knows where the window starts", async () => {
    const { desk, result: hook, rerender } = both(null);
    expect(hook.current.entries).toEqual([]);
    expect(hook.current.notes.notes).toEqual([]);
    expect(timeline(desk)).toHaveLength(0);
    rerender({ at: 0 });
    await waitFor(() => expect(hook.current.entries).toHaveLength(3));
  });

  it("reads again on this conversation's STATUS_CHANGED, asking for the read models to hold it", async () => {
    const { desk, server, result: hook } = both(0);
    await waitFor(() => expect(hook.current.entries).toHaveLength(3));
    const changed = (conversation_id: string, stream_position: number, position: number) => ({ type: "STATUS_CHANGED", conversation_id, stream_position, position, at: "x", from: "active", to: "closed" });
    act(() => server.last.receive(changed("c2", 8, 45)));
    expect(timeline(desk)).toHaveLength(2); // another conversation's frame: no read
    act(() => server.last.receive(changed("c1", 9, 50)));
    await waitFor(() => expect(timeline(desk)).toHaveLength(4));
    expect(timeline(desk).slice(2).map((c) => c.query.get("min_position"))).toEqual(["50", "50"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(timeline(desk)).toHaveLength(4);
  });

  it("stops after twenty pages of a timeline that never ends", async () => {
    const desk = deskApi({
      "GET /api/conversations/c1/timeline": (call: { query: URLSearchParams }) => ({ items: [], next_after: Number(call.query.get("after")) + 1, reached: 0 }),
    });
    const { result: hook } = renderHook(() => useStatusEntries("c1", null, 0), { wrapper: desk.wrapper });
    await waitFor(() => expect(desk.calls).toHaveLength(20));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(desk.calls).toHaveLength(20);
    expect(hook.current).toEqual([]);
  });

  it("adds a colleague's note from the socket once, whatever repeats it, and only this conversation's", async () => {
    const { server, result: hook } = both(0);
    await waitFor(() => expect(hook.current.notes.notes).toHaveLength(2));
    const added = (conversation_id: string, note_id: string, position: number) => ({ type: "NOTE_ADDED", conversation_id, stream_position: 9, position, at: "2026-11-24T10:09:00Z", note_id, author_id: "cy", author_name: "Cy", content: "done", mentions: [] });
    act(() => server.last.receive(added("c1", "n70", 70)));
    act(() => server.last.receive(added("c1", "n70", 70)));
    act(() => server.last.receive(added("c1", "n22", 22))); // already read from the timeline
    act(() => server.last.receive(added("c2", "n80", 80)));
    expect(hook.current.notes.notes.map((n) => n.note_id)).toEqual(["n15", "n22", "n70"]);
    expect(hook.current.notes.notes[2]?.created_at).toBe("2026-11-24T10:09:00Z");
  });

  it("adds a note over HTTP and shows it at once as the caller's; a refused one is not shown", async () => {
    const answers = [
      { conversation_id: "c1", position: 60, version: 9, events: ["NoteAdded"], replayed: false, note_id: "n60", mentions: ["bob"] },
      refused(422, "unknown_mention"),
    ];
    const { desk, result: hook } = both(0, { "POST /api/conversations/c1/notes": () => answers.shift() });
    await waitFor(() => expect(hook.current.notes.notes).toHaveLength(2));
    await act(() => hook.current.notes.add.mutateAsync({ content: "@bob call them", mentions: ["bob"] }));
    expect(desk.of("POST", "/api/conversations/c1/notes")[0]?.body).toMatchObject({ content: "@bob call them", mentions: ["bob"] });
    await waitFor(() => expect(hook.current.notes.notes.at(-1)).toMatchObject({ note_id: "n60", author_id: "alice", content: "@bob call them", mentions: ["bob"], position: 60 }));
    await act(() => hook.current.notes.add.mutateAsync({ content: "@ghost hi", mentions: [] }).catch(() => undefined));
    await waitFor(() => expect(hook.current.notes.add.error).toBeInstanceOf(ApiError));
    expect(hook.current.notes.notes).toHaveLength(3);
  });

  it("makes a note of a sparse item without failing", () => {
    expect(noteFromItem({ position: 5, author_name: 3 }, "c1")).toMatchObject({ note_id: "at-5", author_id: "", author_name: null, content: "", mentions: [], position: 5 });
  });
});

describe("useAttachmentUrl", () => {
  const signed = (call: { query: URLSearchParams }) => ({ url: `https://files.test/a1/${call.query.get("variant")}`, expires_at: "x" });

  it("asks for nothing without an id or while not wanted", async () => {
    const desk = deskApi({ "GET /api/attachments/a1/url": signed });
    const { result, rerender } = renderHook(({ id, on }: { id: string | null; on: boolean }) => useAttachmentUrl(id, "content", on), {
      wrapper: desk.wrapper,
      initialProps: { id: null as string | null, on: true },
    });
    rerender({ id: "a1", on: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(desk.calls).toHaveLength(0);
    expect(result.current.fetchStatus).toBe("idle");
    rerender({ id: "a1", on: true }); // the lightbox opened
    await waitFor(() => expect(result.current.data?.url).toBe("https://files.test/a1/content"));
  });

  it("asks again before the signed URL expires (5 minutes)", async () => {
    vi.useFakeTimers();
    const desk = deskApi({ "GET /api/attachments/a1/url": signed });
    const { result } = renderHook(() => useAttachmentUrl("a1", "thumbnail"), { wrapper: desk.wrapper });
    await act(() => vi.advanceTimersByTimeAsync(10));
    expect(result.current.data?.url).toBe("https://files.test/a1/thumbnail");
    expect(desk.calls).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(4 * 60_000));
    expect(desk.calls).toHaveLength(2);
  });

  it("reports a refusal at once, without retrying", async () => {
    const desk = deskApi({ "GET /api/attachments/a1/url": refused(403, "forbidden") });
    const { result } = renderHook(() => useAttachmentUrl("a1", "content"), { wrapper: desk.wrapper });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error).toMatchObject({ code: "forbidden" });
    expect(desk.calls).toHaveLength(1);
  });
});

describe("useClientConversations", () => {
  const page = { items: [conversationRow("c1", { client_id: "c-1" }), conversationRow("c2", { client_id: "c-1", status: "closed" })], next_cursor: null };

  it("lists the client's conversations, shares the read for a while, and reads again when asked to", async () => {
    const desk = deskApi({ "GET /api/conversations": page });
    const first = renderHook(() => useClientConversations("c-1"), { wrapper: desk.wrapper });
    await waitFor(() => expect(first.result.current.data?.items.map((c) => c.conversation_id)).toEqual(["c1", "c2"]));
    expect([desk.calls[0]?.query.get("client_id"), desk.calls[0]?.query.get("limit")]).toEqual(["c-1", "50"]);
    const second = renderHook(() => useClientConversations("c-1"), { wrapper: desk.wrapper }); // a second panel
    expect(second.result.current.data?.items).toHaveLength(2);
    expect(desk.calls).toHaveLength(1);
    await act(() => desk.client.invalidateQueries({ queryKey: clientConversationsKey("c-1") }));
    expect(desk.calls).toHaveLength(2);
  });

  it("reports the server's refusal", async () => {
    const desk = deskApi({ "GET /api/conversations": refused(500, "internal") });
    const { result } = renderHook(() => useClientConversations("c-1"), { wrapper: desk.wrapper });
    await waitFor(() => expect(result.current.error).toMatchObject({ code: "internal" }));
  });
});

describe("usePanelAction", () => {
  const before = conversationRow("c1", { position: 10 });
  const after = conversationRow("c1", { position: 20, assignee_id: "alice", assignee_name: "Alice Martin" });
  const list = (rows: Conversation[]): InfiniteData<ConversationPage> => ({ pages: [{ items: rows, next_cursor: null }], pageParams: [null] });

  it("runs the command, then writes the row read at its position into the caches, moving it between lists", async () => {
    const desk = deskApi({ "GET /api/conversations/c1": after });
    desk.client.setQueryData(keys.conversation("c1"), before);
    desk.client.setQueryData(keys.conversations({ assignee: "unassigned" }), list([before]));
    desk.client.setQueryData(keys.conversations({ assignee: "me" }), list([]));
    const run = vi.fn(async (agent: string) => (agent ? result(20) : result(0)));
    const { result: hook } = renderHook(() => usePanelAction("c1", run), { wrapper: desk.wrapper });
    await act(() => hook.current.mutateAsync("alice"));
    expect(run).toHaveBeenCalledWith("alice");
    expect(desk.calls[0]?.query.get("min_position")).toBe("20");
    expect(desk.client.getQueryData<Conversation>(keys.conversation("c1"))?.assignee_id).toBe("alice");
    const ids = (filters: object) => desk.client.getQueryData<InfiniteData<ConversationPage>>(keys.conversations(filters))?.pages[0]?.items.map((c) => c.conversation_id);
    expect(ids({ assignee: "unassigned" })).toEqual([]);
    expect(ids({ assignee: "me" })).toEqual(["c1"]);
    // the observer hears of the settled mutation on the notify manager's next tick, not within act
    await waitFor(() => expect(hook.current.data).toEqual(result(20)));
  });

  it("reports a refused command in words with its code, and reads no row", async () => {
    const desk = deskApi({});
    const run = vi.fn(async () => Promise.reject(new ApiError(409, "conversation_closed", "The conversation is closed")));
    const { result: hook } = renderHook(() => usePanelAction("c1", run), { wrapper: desk.wrapper });
    await act(() => hook.current.mutateAsync(undefined).catch(() => undefined));
    await waitFor(() => expect(failure(hook.current.error)).toBe("The conversation is closed (conversation_closed)"));
    expect(desk.calls).toHaveLength(0);
    expect(failure(null)).toBeNull();
  });
});

describe("useStaffNames", () => {
  const agents = { items: [{ agent_id: "bob", display_name: "Bob Stone", availability: "online", online: true }] };

  it("names staff from the directory, and leaves unknown ids (and all ids until it is read) as they are", async () => {
    const desk = deskApi({ "GET /api/agents": agents });
    const { result } = renderHook(() => useStaffNames(), { wrapper: desk.wrapper });
    expect(result.current("bob")).toBe("bob");
    await waitFor(() => expect(result.current("bob")).toBe("Bob Stone"));
    expect(result.current("ghost")).toBe("ghost");
    expect(result.current("")).toBe("");
  });

  it("keeps the ids when the directory cannot be read, asking once", async () => {
    const desk = deskApi({ "GET /api/agents": refused(503, "unavailable") });
    const { result } = renderHook(() => useStaffNames(), { wrapper: desk.wrapper });
    await waitFor(() => expect(desk.calls).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(desk.calls).toHaveLength(1);
    expect(result.current("bob")).toBe("bob");
  });
});
