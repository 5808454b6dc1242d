/** The stale-action guard and the composer's Send over a conversation socket
 * (the fake WebSocket of fakes.ts behind a real ParleySocket). */
import { act, render, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { outgoingOf, useComposerSend } from "../src/hooks/useComposerSend";
import type { SendExtra } from "../src/hooks/useMessages";
import { refusalOf, useStaleGuard, type Outgoing } from "../src/hooks/useStaleGuard";
import type { PendingUpload } from "../src/hooks/useUploads";
import type { ParleySocket } from "../src/services/socket";
import { closeOpened, connectedConversation, created } from "./fakes";

afterEach(closeOpened);

/** A conversation socket, READY at version 7. */
const connected = connectedConversation;

/** What `useMessages().send` does with a reply: a SEND_MESSAGE frame on the socket. */
function sender(socket: ParleySocket) {
  return vi.fn((content: string, extra: SendExtra = {}) => {
    const id = extra.clientMessageId ?? "m-x";
    socket.sendMessage({ type: "SEND_MESSAGE", content, client_message_id: id, ...(extra.seenVersion !== undefined ? { seen_version: extra.seenVersion } : {}) });
    return id;
  });
}

const moved = (ref: unknown, version: number, missed: unknown[]) => ({ type: "ERROR", code: "conversation_moved", ref, message: "moved", details: { version, missed } });
const newMessage = (seq: number) => ({ type: "MessageSent", data: { seq } });

describe("refusalOf", () => {
  const outgoing: Outgoing = { clientMessageId: "m-1", content: "On it" };

  it("reads the version, whether a message was missed, and the first missed message", () => {
    const error = { type: "ERROR" as const, code: "conversation_moved", message: "", details: { version: 9, missed: [{ type: "AssigneeChanged" }, newMessage(3), newMessage(4)] } };
    expect(refusalOf(error, outgoing)).toEqual({ version: 9, newMessage: true, firstSeq: 3, refused: [outgoing] });
    const statusOnly = { ...error, details: { version: 9, missed: [{ type: "ConversationStatusChanged" }] } };
    expect(refusalOf(statusOnly, outgoing)).toMatchObject({ newMessage: false, firstSeq: null });
  });

  it("assumes a message when the server does not say what was missed", () => {
    expect(refusalOf({ type: "ERROR", code: "conversation_moved", message: "" }, outgoing)).toEqual({ version: 0, newMessage: true, firstSeq: null, refused: [outgoing] });
  });
});

describe("useStaleGuard", () => {
  it("sends at the version the author saw when they began, however the conversation moved since", () => {
    const { server, socket } = connected();
    const { result } = renderHook(() => useStaleGuard(socket));
    expect(result.current.versionFor([])).toBe(7); // not begun: what is on screen now
    act(() => result.current.began());
    act(() => server.last.receive(created(2, 8)));
    act(() => result.current.began()); // writing on does not move it
    expect(result.current.versionFor([])).toBe(7);
    act(() => result.current.sentAll());
    expect(result.current.versionFor([])).toBe(8); // the next reply begins anew
  });

  it("holds a conversation_moved refusal of a sent reply, and adds further refusals to it", () => {
    const { server, socket } = connected();
    const { result } = renderHook(() => useStaleGuard(socket));
    const first: Outgoing = { clientMessageId: "m-1", content: "On it" };
    const second: Outgoing = { clientMessageId: "m-2", content: "Checking" };
    socket.sendMessage({ type: "SEND_MESSAGE", content: first.content, client_message_id: first.clientMessageId, seen_version: result.current.versionFor([first, second]) });
    socket.sendMessage({ type: "SEND_MESSAGE", content: second.content, client_message_id: second.clientMessageId, seen_version: 7 });
    act(() => server.last.receive(moved("m-1", 8, [newMessage(2)])));
    expect(result.current.refusal).toEqual({ version: 8, newMessage: true, firstSeq: 2, refused: [first] });
    act(() => server.last.receive(moved("m-2", 9, [newMessage(2), newMessage(3)])));
    expect(result.current.refusal).toEqual({ version: 9, newMessage: true, firstSeq: 2, refused: [first, second] });
    act(() => result.current.dismiss());
    expect(result.current.refusal).toBeNull();
  });

  it("ignores other refusals, and replies it did not send or that were acknowledged", () => {
    const { server, socket } = connected();
    const { result } = renderHook(() => useStaleGuard(socket));
    const mine: Outgoing[] = [
      { clientMessageId: "m-1", content: "a" },
      { clientMessageId: "m-2", content: "b" },
    ];
    result.current.versionFor(mine);
    for (const id of ["m-1", "m-2", "m-3"]) socket.sendMessage({ type: "SEND_MESSAGE", content: id, client_message_id: id });
    act(() => server.last.receive({ type: "ERROR", code: "conversation_closed", ref: "m-1", message: "closed" }));
    act(() => server.last.receive(moved("m-3", 8, []))); // not through the guard
    act(() => server.last.receive({ type: "ACK", client_message_id: "m-2", ref: "m-2" }));
    act(() => server.last.receive(moved("m-2", 8, [])));
    expect(result.current.refusal).toBeNull();
  });

  it("after Review, answers the version the refusal gave", () => {
    const { server, socket } = connected();
    const { result } = renderHook(() => useStaleGuard(socket));
    socket.sendMessage({ type: "SEND_MESSAGE", content: "a", client_message_id: "m-1", seen_version: result.current.versionFor([{ clientMessageId: "m-1", content: "a" }]) });
    act(() => server.last.receive(moved("m-1", 8, [newMessage(2)])));
    act(() => result.current.review());
    expect(result.current.refusal).toBeNull();
    act(() => server.last.receive(created(3, 9))); // arrives while the author reviews
    expect(result.current.versionFor([])).toBe(8);
  });

  it("works without a socket yet (version 0) and stops listening to an old one", () => {
    const { server, socket } = connected();
    const { result, rerender } = renderHook(({ s }: { s: ParleySocket | null }) => useStaleGuard(s), { initialProps: { s: null as ParleySocket | null } });
    expect(result.current.versionFor([])).toBe(0);
    rerender({ s: socket });
    result.current.versionFor([{ clientMessageId: "m-1", content: "a" }]);
    socket.sendMessage({ type: "SEND_MESSAGE", content: "a", client_message_id: "m-1" });
    rerender({ s: null });
    act(() => server.last.receive(moved("m-1", 8, [])));
    expect(result.current.refusal).toBeNull();
  });
});

const upload = (key: string, name: string, mime: string, done = true): PendingUpload => ({
  key,
  name,
  size: 10,
  isImage: mime.startsWith("image/"),
  preview: null,
  progress: done ? 1 : 0.4,
  status: done ? "done" : "uploading",
  ...(done ? { attachment: { attachment_id: `a-${key}`, conversation_id: "c1", name, mime_type: mime, size: 10, status: "checking" as const } } : {}),
});

describe("outgoingOf", () => {
  it("makes one message per uploaded file, the text the first one's caption, each with its own id", () => {
    const out = outgoingOf("Here", [upload("1", "parcel.png", "image/png"), upload("2", "invoice.pdf", "application/pdf"), upload("3", "big.png", "image/png", false)]);
    expect(out.map((o) => [o.content, o.attachment?.attachment_id, o.attachment?.isImage])).toEqual([
      ["Here", "a-1", true],
      ["invoice.pdf", "a-2", false],
    ]);
    expect(new Set(out.map((o) => o.clientMessageId)).size).toBe(2);
    expect(outgoingOf("  ", [upload("1", "parcel.png", "image/png")])[0]?.content).toBe("parcel.png");
    expect(outgoingOf(" hi ", [])).toEqual([{ clientMessageId: expect.stringMatching(/^m-/), content: " hi " }]);
    expect(outgoingOf("\n", [upload("3", "big.png", "image/png", false)])).toEqual([]);
  });
});

describe("useComposerSend", () => {
  it("sends a reply with the guard's version, and nothing for an empty one", () => {
    const { server, socket } = connected();
    const send = sender(socket);
    const { result } = renderHook(() => useComposerSend(socket, send));
    act(() => result.current.reply("   "));
    expect(send).not.toHaveBeenCalled();
    act(() => result.current.began());
    act(() => server.last.receive(created(2, 8)));
    act(() => result.current.reply("On it", [upload("1", "parcel.png", "image/png")]));
    expect(send).toHaveBeenCalledWith("On it", {
      clientMessageId: expect.stringMatching(/^m-/),
      seenVersion: 7,
      attachment: { attachment_id: "a-1", name: "parcel.png", mime_type: "image/png", size: 10, isImage: true },
    });
    act(() => result.current.reply("Next"));
    expect(send).toHaveBeenLastCalledWith("Next", expect.objectContaining({ seenVersion: 8 }));
  });

  it("sends a refused reply anyway under new ids at the refusal's version", () => {
    const { server, socket } = connected();
    const send = sender(socket);
    const { result } = renderHook(() => useComposerSend(socket, send));
    act(() => result.current.reply("On it"));
    const firstId = send.mock.results[0]?.value as string;
    act(() => server.last.receive(moved(firstId, 8, [newMessage(2)])));
    expect(result.current.refusal?.refused.map((o) => o.content)).toEqual(["On it"]);
    act(() => result.current.sendAnyway());
    expect(result.current.refusal).toBeNull();
    const again = send.mock.calls[1];
    expect(again?.[0]).toBe("On it");
    expect(again?.[1]).toMatchObject({ seenVersion: 8 });
    expect(again?.[1]?.clientMessageId).not.toBe(firstId);
    // Refused again: the guard knows the new id.
    act(() => server.last.receive(moved(again?.[1]?.clientMessageId, 9, [])));
    expect(result.current.refusal?.version).toBe(9);
  });

  it("on Review gives back what was refused and scrolls the timeline (only it) to the first missed message", () => {
    const { server, socket } = connected();
    const send = sender(socket);
    const { result } = renderHook(() => useComposerSend(socket, send));
    expect(result.current.review()).toEqual([]); // nothing refused: nothing to review
    expect(() => result.current.sendAnyway()).not.toThrow();
    expect(send).not.toHaveBeenCalled();

    const { getByLabelText, getByTestId } = render(
      <ol aria-label="Messages">
        <li data-testid="message" data-seq="2">
          Hello??
        </li>
      </ol>,
    );
    const timeline = getByLabelText("Messages");
    const message = getByTestId("message");
    let scrollTop = 1000;
    Object.defineProperty(timeline, "scrollTop", { get: () => scrollTop, set: (v: number) => (scrollTop = v) });
    Object.defineProperty(timeline, "clientHeight", { value: 400 });
    Object.defineProperty(message, "offsetHeight", { value: 40 });
    timeline.getBoundingClientRect = () => ({ top: 100 }) as DOMRect;
    message.getBoundingClientRect = () => ({ top: 900 }) as DOMRect;

    act(() => result.current.reply("On it"));
    act(() => server.last.receive(moved(send.mock.results[0]?.value, 8, [newMessage(2)])));
    let back: Outgoing[] = [];
    act(() => {
      back = result.current.review();
    });
    expect(back.map((o) => o.content)).toEqual(["On it"]);
    expect(result.current.refusal).toBeNull();
    expect(scrollTop).toBe(1000 + 800 - 200 + 20); // the message centred in the timeline
    act(() => result.current.reply("On it, having read"));
    expect(send).toHaveBeenLastCalledWith("On it, having read", expect.objectContaining({ seenVersion: 8 }));
  });
});
