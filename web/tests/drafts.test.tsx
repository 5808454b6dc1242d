import { act, fireEvent, render, renderHook, screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { MessageInput } from "../src/components/MessageInput";
import { draftKey, useDraft } from "../src/hooks/useDraft";

beforeEach(() => localStorage.clear());

describe("useDraft", () => {
  it("keeps a draft per person and conversation, across remounts (a reload)", () => {
    const first = renderHook(({ key }) => useDraft(key), { initialProps: { key: draftKey("alice", "c1") } });
    act(() => first.result.current[1]("half a reply"));
    first.unmount();
    expect(renderHook(() => useDraft(draftKey("alice", "c1"))).result.current[0]).toBe("half a reply");
    expect(renderHook(() => useDraft(draftKey("alice", "c2"))).result.current[0]).toBe("");
    expect(renderHook(() => useDraft(draftKey("bob", "c1"))).result.current[0]).toBe("");
  });

  it("follows a change of conversation in the same input, and clears", () => {
    localStorage.setItem(draftKey("alice", "c2"), "for c2");
    const hook = renderHook(({ key }) => useDraft(key), { initialProps: { key: draftKey("alice", "c1") } });
    act(() => hook.result.current[1]("for c1"));
    hook.rerender({ key: draftKey("alice", "c2") });
    expect(hook.result.current[0]).toBe("for c2");
    hook.rerender({ key: draftKey("alice", "c1") });
    expect(hook.result.current[0]).toBe("for c1");
    act(() => hook.result.current[2]());
    expect(hook.result.current[0]).toBe("");
    expect(localStorage.getItem(draftKey("alice", "c1"))).toBeNull();
  });

  it("without a key is plain state, stored nowhere", () => {
    const hook = renderHook(() => useDraft(null));
    act(() => hook.result.current[1]("x"));
    expect(hook.result.current[0]).toBe("x");
    expect(localStorage.length).toBe(0);
  });
});

describe("the message input with a draft", () => {
  const input = (onSend = vi.fn()) =>
    render(<MessageInput draftKey={draftKey("alice", "c1")} disabled={false} onSend={onSend} onTyping={vi.fn()} onStopTyping={vi.fn()} />);

  it("comes back with the draft, and forgets it once sent", () => {
    const first = input();
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "Dear Carol," } });
    first.unmount();
    const onSend = vi.fn();
    input(onSend);
    const box = screen.getByLabelText<HTMLTextAreaElement>("Message");
    expect(box.value).toBe("Dear Carol,");
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("Dear Carol,");
    expect(box.value).toBe("");
    expect(localStorage.getItem(draftKey("alice", "c1"))).toBeNull();
  });
});

describe("signing out", () => {
  it("forgets that person's drafts only", async () => {
    const { clearDrafts } = await import("../src/hooks/useDraft");
    localStorage.setItem(draftKey("alice", "c1"), "a1");
    localStorage.setItem(draftKey("alice", "c2"), "a2");
    localStorage.setItem(draftKey("alice2", "c1"), "other");
    localStorage.setItem("parley.sound", "on");
    clearDrafts("alice");
    expect([draftKey("alice", "c1"), draftKey("alice", "c2")].map((k) => localStorage.getItem(k))).toEqual([null, null]);
    expect(localStorage.getItem(draftKey("alice2", "c1"))).toBe("other");
    expect(localStorage.getItem("parley.sound")).toBe("on");
  });
});
