import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AttachmentPreviews } from "../src/components/AttachmentPreviews";
import { MessageInput } from "../src/components/MessageInput";
import { focusComposer } from "../src/hooks/useComposerHandle";
import type { SuggestionSources } from "../src/hooks/useSuggestions";
import type { PendingUpload } from "../src/hooks/useUploads";
import { cannedAt, matchAgents, mentionAt, mentionedIds, mentionToken, replaceRange, splitMentions } from "../src/lib/suggest";
import { ApiError } from "../src/services/apiError";
import { uploadAttachment, uploadErrorText } from "../src/services/upload";
import type { Agent } from "../src/types";
import { FakeXhr } from "./composerFakes";

const agent = (agent_id: string, display_name: string): Agent => ({ agent_id, display_name, availability: "online", online: true });
const AGENTS = [agent("bob", "Bob Stone"), agent("cy", "Cy Young"), agent("ann", "Ann (Lead) Lee")];
const sources: SuggestionSources = {
  agents: AGENTS,
  canned: async (prefix) =>
    [
      { response_id: "r1", code: "hello", content: "Hello! How can I help you today?", shared: true },
      { response_id: "r2", code: "refund", content: "Your refund is on its way.", shared: true },
    ].filter((r) => r.code.startsWith(prefix)),
};

beforeEach(() => localStorage.clear());

describe("suggestions, pure", () => {
  it("finds the @name at the caret as the server reads it", () => {
    expect(mentionAt("ask @bo", 7)).toEqual({ start: 4, query: "bo" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("mail a@b", 8)).toBeNull(); // an address, not a mention
    expect(mentionAt("ask @bob now", 12)).toBeNull();
  });

  it("takes /code only as the whole text", () => {
    expect(cannedAt("/ref")).toBe("ref");
    expect(cannedAt("/")).toBe("");
    expect(cannedAt("/ref und")).toBeNull();
    expect(cannedAt("say /ref")).toBeNull();
  });

  it("writes a name without spaces, or the id when the server could not read the name back", () => {
    expect(mentionToken(agent("bob", "Bob Stone"))).toBe("BobStone");
    expect(mentionToken(agent("ann", "Ann (Lead) Lee"))).toBe("ann");
    expect(matchAgents(AGENTS, "st").map((a) => a.agent_id)).toEqual(["bob"]);
    expect(matchAgents(AGENTS, "c").map((a) => a.agent_id)).toEqual(["cy"]);
  });

  it("inserts, lists who is still mentioned, and cuts a note into mentions", () => {
    expect(replaceRange("hi @bo", 3, 6, "@BobStone")).toEqual({ text: "hi @BobStone ", caret: 13 });
    const inserted = new Map([["bob", "BobStone"], ["cy", "CyYoung"]]);
    expect(mentionedIds("thanks @bobstone.", inserted)).toEqual(["bob"]);
    expect(splitMentions("ask @bob, now")).toEqual([
      { text: "ask ", mention: false },
      { text: "@bob", mention: true },
      { text: ", now", mention: false },
    ]);
  });
});

function composer(extra: Partial<Parameters<typeof MessageInput>[0]> = {}) {
  const onSend = vi.fn();
  const onNote = vi.fn(async () => ({}));
  render(<MessageInput disabled={false} onSend={onSend} onTyping={vi.fn()} onStopTyping={vi.fn()} onNote={onNote} sources={sources} {...extra} />);
  return { onSend, onNote };
}

const axeViolations = async () => {
  const axe = (await import("axe-core")).default;
  const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`);
};

describe("the composer: replies and notes", () => {
  it("switches to a note, says in words it is internal, and sends it as a note with its mentions", async () => {
    const { onSend, onNote } = composer();
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    expect(screen.getByRole("button", { name: "Note" }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByTestId("note-mode-label").textContent).toBe("Internal note — not sent to the client");
    const box = screen.getByLabelText("Internal note");
    fireEvent.change(box, { target: { value: "Refund approved", selectionStart: 15 } });
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(onNote).toHaveBeenCalledWith("Refund approved", []));
    expect(onSend).not.toHaveBeenCalled();
    await waitFor(() => expect((box as HTMLTextAreaElement).value).toBe(""));
  });

  it("keeps the note and says why when it is refused", async () => {
    composer({ onNote: async () => Promise.reject(new Error("no agent 'ghost' to mention")) });
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    const box = screen.getByLabelText<HTMLTextAreaElement>("Internal note");
    fireEvent.change(box, { target: { value: "hey" } });
    fireEvent.click(screen.getByRole("button", { name: "Add note" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no agent 'ghost' to mention");
    expect(box.value).toBe("hey");
  });

  it("is reachable from anywhere: focusComposer('note') switches and focuses, ('reply') back", () => {
    composer();
    act(() => void focusComposer("note"));
    expect(document.activeElement).toBe(screen.getByLabelText("Internal note"));
    act(() => void focusComposer("reply"));
    expect(document.activeElement).toBe(screen.getByLabelText("Message"));
  });

  it("takes notes on a closed conversation, not replies", () => {
    composer({ disabled: true, disabledReason: "closed" });
    expect(screen.getByLabelText<HTMLTextAreaElement>("Message").disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    expect(screen.getByLabelText<HTMLTextAreaElement>("Internal note").disabled).toBe(false);
  });
});

describe("the composer: @ mentions in a note", () => {
  it("lists colleagues as you type, arrows move, Enter inserts, and the note names them", async () => {
    const { onNote } = composer();
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    const box = screen.getByLabelText<HTMLTextAreaElement>("Internal note");
    fireEvent.change(box, { target: { value: "please @", selectionStart: 8 } });
    const list = screen.getByRole("listbox", { name: "Mention a colleague" });
    expect(screen.getAllByRole("option").map((o) => o.textContent?.split("@")[0]?.trim())).toEqual(["Ann (Lead) Lee", "Bob Stone", "Cy Young"]);
    fireEvent.change(box, { target: { value: "please @o", selectionStart: 9 } });
    expect(screen.getAllByRole("option")).toHaveLength(2); // Bob Stone, Cy Young
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(box.getAttribute("aria-activedescendant")).toBe(screen.getAllByRole("option")[1]?.id);
    expect(box.getAttribute("aria-controls")).toBe(list.id);
    fireEvent.keyDown(box, { key: "ArrowUp" });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(box.value).toBe("please @BobStone ");
    expect(screen.queryByRole("listbox")).toBeNull();
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(onNote).toHaveBeenCalledWith("please @BobStone ", ["bob"]));
  });

  it("closes on Escape, and offers nothing in a reply", () => {
    composer();
    const reply = screen.getByLabelText<HTMLTextAreaElement>("Message");
    fireEvent.change(reply, { target: { value: "@b", selectionStart: 2 } });
    expect(screen.queryByRole("listbox")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    const box = screen.getByLabelText<HTMLTextAreaElement>("Internal note");
    fireEvent.change(box, { target: { value: "@b", selectionStart: 2 } });
    expect(screen.getByRole("listbox")).toBeTruthy();
    fireEvent.keyDown(box, { key: "Escape" });
    expect(screen.queryByRole("listbox")).toBeNull();
  });

  it("has no axe violations with the listbox open", async () => {
    composer();
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    fireEvent.change(screen.getByLabelText("Internal note"), { target: { value: "@", selectionStart: 1 } });
    expect(screen.getByRole("listbox")).toBeTruthy();
    expect(await axeViolations()).toEqual([]);
  });
});

describe("the composer: canned responses behind /", () => {
  it("lists the responses whose code starts with what is typed; Enter inserts the text", async () => {
    composer();
    const box = screen.getByLabelText<HTMLTextAreaElement>("Message");
    fireEvent.change(box, { target: { value: "/", selectionStart: 1 } });
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    expect(screen.getByRole("listbox", { name: "Canned responses" })).toBeTruthy();
    fireEvent.change(box, { target: { value: "/re", selectionStart: 3 } });
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(1));
    expect(screen.getByRole("option").textContent).toContain("/refund");
    expect(await axeViolations()).toEqual([]);
    fireEvent.keyDown(box, { key: "Enter" });
    expect(box.value).toBe("Your refund is on its way.");
    expect(screen.queryByRole("listbox")).toBeNull();
  });

  it("inserts on a click too, and says when nothing matches", async () => {
    composer();
    const box = screen.getByLabelText<HTMLTextAreaElement>("Message");
    fireEvent.change(box, { target: { value: "/zz", selectionStart: 3 } });
    expect(await screen.findByText("No canned response with that code")).toBeTruthy();
    fireEvent.change(box, { target: { value: "/h", selectionStart: 2 } });
    fireEvent.click(await screen.findByRole("option"));
    expect(box.value).toBe("Hello! How can I help you today?");
  });
});

const pending = (extra: Partial<PendingUpload>): PendingUpload => ({
  key: "u1",
  name: "parcel.png",
  size: 2048,
  isImage: true,
  preview: null,
  progress: 0,
  status: "uploading",
  ...extra,
});

describe("attachments in the composer", () => {
  it("shows progress, readiness and refusals in words, each removable", () => {
    const onRemove = vi.fn();
    const { rerender } = render(<AttachmentPreviews items={[pending({ progress: 0.42 })]} onRemove={onRemove} />);
    const bar = screen.getByRole("progressbar", { name: "Uploading parcel.png" });
    expect(bar.getAttribute("aria-valuenow")).toBe("42");
    rerender(<AttachmentPreviews items={[pending({ status: "error", error: "File too large (the limit is 25 MB)" })]} onRemove={onRemove} />);
    expect(screen.getByRole("alert").textContent).toBe("File too large (the limit is 25 MB)");
    rerender(<AttachmentPreviews items={[pending({ status: "done", progress: 1 })]} onRemove={onRemove} />);
    expect(screen.getByText("2 KB · ready to send")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Remove parcel.png" }));
    expect(onRemove).toHaveBeenCalledWith("u1");
  });

  it("takes a pasted image into the uploads, and sends a reply with the uploaded files", () => {
    const add = vi.fn();
    const done = pending({ status: "done", progress: 1 });
    const uploads = { items: [done], add, remove: vi.fn(), clearDone: vi.fn(), restore: vi.fn(), uploading: false, ready: [done] };
    const { onSend } = composer({ uploads });
    const box = screen.getByLabelText("Message");
    const image = new File([new Uint8Array([137, 80, 78, 71])], "image.png", { type: "image/png" });
    fireEvent.paste(box, { clipboardData: { files: [image], types: ["Files"] } });
    expect(add).toHaveBeenCalledWith([image]);
    fireEvent.click(screen.getByRole("button", { name: "Send" })); // a file alone may be sent
    expect(onSend).toHaveBeenCalledWith("", [done]);
    expect(uploads.clearDone).toHaveBeenCalled();
  });

  it("waits for uploads before sending", () => {
    const busy = pending({});
    composer({ uploads: { items: [busy], add: vi.fn(), remove: vi.fn(), clearDone: vi.fn(), restore: vi.fn(), uploading: true, ready: [] } });
    expect(screen.getByRole<HTMLButtonElement>("button", { name: "Uploading…" }).disabled).toBe(true);
  });
});

describe("uploading a file", () => {
  afterEach(() => {
    FakeXhr.made = [];
  });
  const file = new File(["hello"], "notes.txt", { type: "text/plain" });
  const start = (onProgress = vi.fn()) =>
    uploadAttachment({ conversationId: "c1", file, token: "tok", onProgress, createRequest: () => new FakeXhr() as unknown as XMLHttpRequest });

  it("posts one multipart part with the token, reporting progress", async () => {
    const onProgress = vi.fn();
    const done = start(onProgress);
    const xhr = FakeXhr.made[0] as FakeXhr;
    expect([xhr.method, xhr.url, xhr.headers.Authorization]).toEqual(["POST", "/api/attachments?conversation_id=c1", "Bearer tok"]);
    expect((xhr.body as FormData).get("file")).toBeInstanceOf(File);
    xhr.progress(50, 100);
    expect(onProgress).toHaveBeenCalledWith(0.5);
    xhr.answer(201, { attachment_id: "a1", name: "notes.txt" });
    expect((await done).attachment_id).toBe("a1");
    expect(onProgress).toHaveBeenLastCalledWith(1);
  });

  it("carries the server's refusal, said plainly", async () => {
    const big = start();
    (FakeXhr.made[0] as FakeXhr).answer(413, { code: "payload_too_large", message: "too large" });
    const error = await big.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(uploadErrorText(error as ApiError)).toBe("File too large (the limit is 25 MB)");
    const exe = start();
    (FakeXhr.made[1] as FakeXhr).answer(415, { code: "unsupported_media_type", message: "no" });
    expect(uploadErrorText((await exe.catch((e: unknown) => e)) as ApiError)).toBe("This type of file is not accepted (images, PDF or plain text only)");
  });
});
