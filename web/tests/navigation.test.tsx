import { act, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { useRef } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ConnectionStatus } from "../src/components/ConnectionStatus";
import { ConversationCreationModal } from "../src/components/ConversationCreationModal";
import { SkipLink } from "../src/components/SkipLink";
import { useActionError } from "../src/hooks/useActionError";
import { useRoute } from "../src/hooks/useRoute";
import { ApiError } from "../src/services/api";
import type { ConnectionState } from "../src/services/socket";

const A = "8f0c1d2e-0000-4000-8000-000000000001";
const B = "8f0c1d2e-0000-4000-8000-000000000002";

describe("useRoute: the inbox and a conversation as two screens", () => {
  beforeEach(() => window.history.replaceState(null, "", "/#/"));

  it("opens a conversation as a new history entry; Back returns to the inbox entry", async () => {
    const { result } = renderHook(() => useRoute());
    expect(result.current.selected).toBeNull();
    const depth = window.history.length;
    act(() => result.current.open(A));
    expect(result.current.selected).toBe(A);
    expect(window.location.hash).toBe(`#/c/${A}`);
    expect(window.history.length).toBe(depth + 1);
    act(() => result.current.back());
    await waitFor(() => expect(result.current.selected).toBeNull());
    expect(window.location.hash).toBe("#/");
  });

  it("follows the browser's back and forward", async () => {
    const { result } = renderHook(() => useRoute());
    act(() => result.current.open(A));
    act(() => window.history.back());
    await waitFor(() => expect(result.current.selected).toBeNull());
    act(() => window.history.forward());
    await waitFor(() => expect(result.current.selected).toBe(A));
  });

  it("goes to the inbox, not to the previous conversation, from one opened from another", async () => {
    const { result } = renderHook(() => useRoute());
    act(() => result.current.open(A));
    act(() => result.current.open(B));
    act(() => result.current.back());
    await waitFor(() => expect(result.current.selected).toBeNull());
    expect(window.location.hash).toBe("#/");
  });

  it("opens at the conversation in a shared link, whose Back goes to the inbox", () => {
    window.history.replaceState(null, "", `/#/c/${A}`);
    const { result } = renderHook(() => useRoute());
    expect(result.current.selected).toBe(A);
    act(() => result.current.back());
    expect(result.current.selected).toBeNull();
  });
});

describe("the skip link", () => {
  function Page() {
    const main = useRef<HTMLDivElement>(null);
    return (
      <>
        <SkipLink target={main} />
        <button type="button">Top bar button</button>
        <div ref={main} tabIndex={-1} data-testid="main" />
      </>
    );
  }

  it("moves focus past the top bar, leaving the URL (the app's route) alone", () => {
    window.history.replaceState(null, "", `/#/c/${A}`);
    render(<Page />);
    fireEvent.click(screen.getByRole("link", { name: "Skip to main content" }));
    expect(document.activeElement).toBe(screen.getByTestId("main"));
    expect(window.location.hash).toBe(`#/c/${A}`);
  });
});

describe("the Reconnect button", () => {
  it("has dark text on its white background (readable in the dark top bar)", () => {
    render(<ConnectionStatus state="disconnected" onReconnect={vi.fn()} />);
    const button = screen.getByRole("button", { name: "Reconnect" });
    expect(button.className).toContain("bg-white");
    expect(button.className).toContain("text-slate-900");
  });
});

describe("useActionError", () => {
  const offline = new ApiError(0, "network_error", "cannot reach the server: TypeError");
  const refused = new ApiError(409, "invalid_transition", "not from closed");

  function banner() {
    return renderHook(({ connection }: { connection: ConnectionState }) => useActionError(connection), {
      initialProps: { connection: "connected" as ConnectionState },
    });
  }

  it("shows a failure to reach the server until the connection is back", () => {
    const { result, rerender } = banner();
    act(() => result.current.fail(offline));
    expect(result.current.error).toBe("cannot reach the server: TypeError (network_error)");
    rerender({ connection: "reconnecting" });
    expect(result.current.error).not.toBeNull();
    rerender({ connection: "connected" });
    expect(result.current.error).toBeNull();
  });

  it("keeps any other failure until the next action succeeds", () => {
    const { result, rerender } = banner();
    act(() => result.current.fail(refused));
    rerender({ connection: "reconnecting" });
    rerender({ connection: "connected" });
    expect(result.current.error).toBe("not from closed (invalid_transition)");
    act(() => result.current.clear());
    expect(result.current.error).toBeNull();
  });
});

describe("the new-conversation dialog", () => {
  it("opens on the client id, keeps Tab inside, and Escape closes it", () => {
    const onClose = vi.fn();
    render(<ConversationCreationModal onClose={onClose} onCreate={vi.fn()} />);
    const dialog = screen.getByRole("dialog", { name: "New conversation" });
    expect(document.activeElement).toBe(screen.getByLabelText("Client id"));
    const create = screen.getByRole("button", { name: "Create conversation" });
    act(() => create.focus());
    fireEvent.keyDown(create, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByLabelText("Client id"));
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(onClose).toHaveBeenCalledOnce();
  });
});
