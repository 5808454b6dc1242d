import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AttachmentView } from "../src/components/AttachmentView";
import { ChatWindow } from "../src/components/ChatWindow";
import { NoteItem } from "../src/components/NoteItem";
import { withNotes } from "../src/lib/chatItems";
import { interleave } from "../src/lib/timeline";
import type { ShownMessage } from "../src/hooks/useMessages";
import type { Note } from "../src/services/composer";
import { conversationRow, created, FakeServer } from "./fakes";
import { fakeSession, FakeXhr, uploaded, type Route } from "./composerFakes";

const note = (position: number, extra: Partial<Note> = {}): Note => ({
  note_id: `n${position}`,
  conversation_id: "c1",
  author_id: "bob",
  author_name: "Bob Stone",
  content: "VIP: @alice please call them back",
  mentions: ["alice"],
  position,
  created_at: "2026-11-24T10:01:00Z",
  ...extra,
});

const message = (seq: number, extra: Partial<ShownMessage> = {}): ShownMessage => ({
  conversation_id: "c1",
  seq,
  message_id: `m${seq}`,
  sender: "client",
  sender_id: "c-1",
  message_type: "text",
  content: `message ${seq}`,
  attachment: null,
  client_message_id: null,
  created_at: "2026-11-24T10:00:00Z",
  read_by_staff_at: null,
  read_by_client_at: null,
  position: seq * 10,
  ...extra,
});

const axeViolations = async () => {
  const axe = (await import("axe-core")).default;
  const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`);
};

describe("notes in the timeline", () => {
  it("go between messages by position, before messages still sending", () => {
    const items = withNotes(interleave([message(1), message(2), message(3, { local: "pending" })], []), [note(15), note(5)]);
    expect(items.map((i) => (i.kind === "note" ? i.note.note_id : i.kind === "message" ? `m${i.message.seq}` : "s"))).toEqual([
      "n5",
      "m1",
      "n15",
      "m2",
      "m3",
    ]);
  });

  it("look distinct, say in words they are internal, and highlight mentions as text", () => {
    render(
      <ul>
        <NoteItem note={note(5, { content: "<b>@alice</b> look" })} authorName="Bob Stone" selfId="alice" />
      </ul>,
    );
    const shown = screen.getByTestId("note");
    expect(shown.textContent).toContain("Internal note — not sent to the client");
    expect(shown.textContent).toContain("Bob Stone");
    expect(screen.getByTestId("mention").textContent).toBe("@alice");
    expect(shown.querySelector("b")).toBeNull();
  });
});

describe("attachments in the timeline", () => {
  afterEach(() => vi.unstubAllGlobals());
  const described = (thumbnail: boolean) => ({ attachment_id: "a1", name: "parcel.png", mime_type: "image/png", size: 9, status: "ready", thumbnail });
  const route: Route = (_method, path, query) =>
    path === "/api/attachments/a1/url"
      ? { url: `https://files.test/a1/${query.get("variant")}`, expires_at: "x" }
      : path === "/api/attachments/a1"
        ? described(true)
        : undefined;

  it("show an uploaded image's thumbnail; it opens a lightbox that Escape closes, focus back on the thumbnail", async () => {
    const { wrapper } = fakeSession(route);
    render(<AttachmentView type="image" attachment={{ url: null, attachment_id: "a1", name: "parcel.png" }} />, { wrapper });
    const open = await screen.findByRole("button", { name: "Open image parcel.png" });
    await waitFor(() => expect(open.querySelector("img")?.getAttribute("src")).toBe("https://files.test/a1/thumbnail"));
    act(() => open.focus());
    fireEvent.click(open);
    const dialog = screen.getByRole("dialog", { name: "Image: parcel.png" });
    await waitFor(() => expect(dialog.querySelector("img")?.getAttribute("src")).toBe("https://files.test/a1/content"));
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Close" }));
    expect(await axeViolations()).toEqual([]);
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(open);
  });

  it("fall back to the image itself without a thumbnail, and say 'image unavailable' when it is broken", async () => {
    // Not checked yet: no thumbnail, so not even asked for.
    const { wrapper, calls } = fakeSession((m, path, query) => (path === "/api/attachments/a1" ? described(false) : route(m, path, query, null)));
    render(<AttachmentView type="image" attachment={{ url: null, attachment_id: "a1", name: "parcel.png" }} />, { wrapper });
    const button = await screen.findByRole("button", { name: "Open image parcel.png" });
    await waitFor(() => expect(button.querySelector("img")?.getAttribute("src")).toBe("https://files.test/a1/content"));
    expect(calls.some((c) => c.query.get("variant") === "thumbnail")).toBe(false);
    fireEvent.error(button.querySelector("img") as HTMLImageElement);
    expect(screen.getByTestId("image-unavailable").textContent).toBe("parcel.png — image unavailable");
  });

  it("say so for a broken image given by URL too", () => {
    const { wrapper } = fakeSession(() => undefined);
    render(<AttachmentView type="image" attachment={{ url: "https://cdn.test/x.png", name: "x.png" }} />, { wrapper });
    fireEvent.error(screen.getByRole("img"));
    expect(screen.getByText("x.png — image unavailable")).toBeTruthy();
  });

  it("download a file through a signed URL asked for on click", async () => {
    const { wrapper, calls } = fakeSession(route);
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    render(<AttachmentView type="file" attachment={{ url: null, attachment_id: "a1", name: "invoice.pdf", size: 4096 }} />, { wrapper });
    expect(calls).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Download invoice.pdf (4 KB)" }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(calls[0]?.query.get("variant")).toBe("content");
  });
});

/** A chat on conversation c1 over a fake API and socket. */
function chat(route: Route = () => undefined) {
  const timeline = { items: [{ kind: "note", ...note(15) }], next_after: null, reached: 100 };
  const { wrapper, calls } = fakeSession((method, path, query, body) => {
    if (path === "/api/conversations/c1" && method === "GET") return conversationRow("c1", { client_name: "Carol Jensen", version: 7, position: 40 });
    if (path === "/api/messages") return { items: [message(1)], next_before: null };
    if (path === "/api/conversations/c1/timeline") return timeline;
    if (path === "/api/agents") return { items: [{ agent_id: "bob", display_name: "Bob Stone", availability: "online", online: true }] };
    return route(method, path, query, body);
  });
  const server = new FakeServer();
  vi.stubGlobal("WebSocket", function WebSocket(url: string, protocols: string[]) {
    return server.factory(url, protocols);
  });
  render(<ChatWindow conversationId="c1" onSocketState={vi.fn()} reconnectSignal={0} onBack={vi.fn()} />, { wrapper });
  const ready = async () => {
    await waitFor(() => expect(server.sockets).toHaveLength(1));
    act(() => {
      server.last.open();
      server.last.receive({ type: "READY", conversation_id: "c1", stream_position: 7, position: 40 });
    });
    await screen.findByText("message 1");
  };
  return { calls, server, ready };
}

describe("the conversation's composer", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    FakeXhr.made = [];
  });

  it("shows the notes, adds one over HTTP with its mentions, and shows a colleague's as it comes", async () => {
    const { calls, server, ready } = chat((method, path) =>
      method === "POST" && path === "/api/conversations/c1/notes"
        ? { conversation_id: "c1", position: 60, version: 9, events: ["NoteAdded"], replayed: false, note_id: "n60", mentions: ["bob"] }
        : undefined,
    );
    await ready();
    await waitFor(() => expect(screen.getAllByTestId("note")).toHaveLength(1));
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    const box = screen.getByLabelText<HTMLTextAreaElement>("Internal note");
    fireEvent.change(box, { target: { value: "@", selectionStart: 1 } });
    await screen.findByRole("option", { name: /Bob Stone/ });
    fireEvent.keyDown(box, { key: "Enter" });
    fireEvent.change(box, { target: { value: `${box.value}can you call?`, selectionStart: 22 } });
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(screen.getAllByTestId("note")).toHaveLength(2));
    const post = calls.find((c) => c.method === "POST");
    expect(post?.body).toMatchObject({ content: "@BobStone can you call?", mentions: ["bob"] });
    // No message was sent to the client.
    expect(server.last.sentOfType("SEND_MESSAGE")).toEqual([]);
    act(() =>
      server.last.receive({ type: "NOTE_ADDED", conversation_id: "c1", stream_position: 10, position: 70, at: "2026-11-24T10:09:00Z", note_id: "n70", author_id: "bob", author_name: "Bob Stone", content: "Done", mentions: [] }),
    );
    await waitFor(() => expect(screen.getAllByTestId("note")).toHaveLength(3));
    // The same note twice (our POST's answer, then its frame) is shown once.
    act(() =>
      server.last.receive({ type: "NOTE_ADDED", conversation_id: "c1", stream_position: 9, position: 60, at: "x", note_id: "n60", author_id: "alice", author_name: "Alice", content: "@BobStone can you call?", mentions: ["bob"] }),
    );
    expect(screen.getAllByTestId("note")).toHaveLength(3);
  });

  it("guards a stale reply: Send anyway resends at the new version, Review puts the text back", async () => {
    const { server, ready } = chat();
    await ready();
    const box = screen.getByLabelText<HTMLTextAreaElement>("Message");
    fireEvent.change(box, { target: { value: "On it" } });
    // The client writes while alice types.
    act(() => server.last.receive(created(2, 8, { content: "Hello??" })));
    fireEvent.keyDown(box, { key: "Enter" });
    const [sent] = server.last.sentOfType("SEND_MESSAGE");
    expect(sent).toMatchObject({ content: "On it", seen_version: 7 });
    const refuse = (frame: Record<string, unknown> | undefined) =>
      act(() =>
        server.last.receive({
          type: "ERROR",
          code: "conversation_moved",
          ref: frame?.client_message_id,
          field: "seen_version",
          message: "moved",
          details: { version: 8, missed: [{ type: "MessageSent", data: { seq: 2 } }] },
        }),
      );
    refuse(sent);
    const banner = await screen.findByTestId("stale-guard");
    expect(banner.textContent).toContain("A new message arrived while you were typing.");
    expect(screen.queryByText("On it")).toBeNull(); // not shown as sent, nor as failed
    expect(await axeViolations()).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Send anyway" }));
    const again = server.last.sentOfType("SEND_MESSAGE")[1];
    expect(again).toMatchObject({ content: "On it", seen_version: 8 });
    expect(again?.client_message_id).not.toBe(sent?.client_message_id);
    expect(screen.queryByTestId("stale-guard")).toBeNull();

    // Once more, and this time Review.
    fireEvent.change(box, { target: { value: "Second thought" } });
    act(() => server.last.receive(created(3, 9, { content: "Anyone?" })));
    fireEvent.keyDown(box, { key: "Enter" });
    const third = server.last.sentOfType("SEND_MESSAGE")[2];
    expect(third).toMatchObject({ seen_version: 8 });
    act(() =>
      server.last.receive({ type: "ERROR", code: "conversation_moved", ref: third?.client_message_id, message: "moved", details: { version: 9, missed: [{ type: "MessageSent", data: { seq: 3 } }] } }),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Review" }));
    expect(box.value).toBe("Second thought");
    expect(screen.queryByTestId("stale-guard")).toBeNull();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(server.last.sentOfType("SEND_MESSAGE")[3]).toMatchObject({ content: "Second thought", seen_version: 9 });
  });

  it("forgets when a reply began once its text is emptied by hand", async () => {
    const { server, ready } = chat();
    await ready();
    const box = screen.getByLabelText<HTMLTextAreaElement>("Message");
    fireEvent.change(box, { target: { value: "half a thought" } });
    fireEvent.change(box, { target: { value: "" } });
    act(() => server.last.receive(created(2, 8, { content: "Hello??" })));
    fireEvent.change(box, { target: { value: "Hi Carol" } });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(server.last.sentOfType("SEND_MESSAGE")[0]).toMatchObject({ content: "Hi Carol", seen_version: 8 });
  });

  it("uploads a dropped file with progress, then sends it as an image message referencing the upload", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const { server, ready } = chat((_m, path) => (path.startsWith("/api/attachments/") ? { url: "https://files.test/a9", expires_at: "x" } : undefined));
    await ready();
    const image = new File([new Uint8Array([137, 80, 78, 71])], "parcel.png", { type: "image/png" });
    const section = screen.getByRole("region", { name: "Conversation with Carol Jensen" });
    fireEvent.dragEnter(section, { dataTransfer: { types: ["Files"], files: [image] } });
    expect(screen.getByText("Drop files to attach them")).toBeTruthy();
    fireEvent.drop(section, { dataTransfer: { types: ["Files"], files: [image] } });
    const xhr = FakeXhr.made[0] as FakeXhr;
    expect(xhr.url).toBe("/api/attachments?conversation_id=c1");
    act(() => xhr.progress(30, 100));
    expect(screen.getByRole("progressbar", { name: "Uploading parcel.png" }).getAttribute("aria-valuenow")).toBe("30");
    expect(screen.getByRole<HTMLButtonElement>("button", { name: "Uploading…" }).disabled).toBe(true);
    act(() => xhr.answer(201, uploaded("a9", "parcel.png")));
    await screen.findByText(/ready to send/);
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "Here it is" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(server.last.sentOfType("SEND_MESSAGE")[0]).toMatchObject({
      content: "Here it is",
      message_type: "image",
      attachment: { attachment_id: "a9" },
    });
    expect(screen.queryByTestId("pending-attachment")).toBeNull();
    expect(await screen.findByRole("button", { name: "Open image parcel.png" })).toBeTruthy();
  });
});
