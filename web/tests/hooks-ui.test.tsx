/** Hooks of the page itself (no network): roving focus over a list, files
 * dropped on the conversation, and the notification sound's switch. */
import { act, fireEvent, render, renderHook, screen } from "@testing-library/react";
import { useState } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { useFileDrop } from "../src/hooks/useFileDrop";
import { useRovingFocus } from "../src/hooks/useRovingFocus";
import { useSoundPreference } from "../src/hooks/useSoundPreference";

const IDS = Array.from({ length: 10 }, (_, i) => `c${i}`);

/** A list of rows as the inbox renders them; `window`: only rows [start, start + window) are in the DOM. */
function List({ ids = IDS, preferred = null, window, page }: { ids?: string[]; preferred?: string | null; window?: number; page?: number }) {
  const [start, setStart] = useState(0);
  const reveal = (index: number) => setStart(Math.max(0, index - (window ?? 0) + 1));
  const roving = useRovingFocus(ids, preferred, { ...(window ? { reveal } : {}), ...(page ? { page } : {}) });
  const shown = window ? ids.slice(start, start + window) : ids;
  return (
    <ul aria-label="Conversations" onKeyDown={roving.onKeyDown}>
      {shown.map((id) => (
        <li key={id} data-roving-id={id} tabIndex={roving.tabIndexOf(id)} onFocus={() => roving.onFocusRow(id)}>
          {id}
        </li>
      ))}
    </ul>
  );
}

const row = (id: string) => screen.getByText(id);
const tabStops = () => screen.queryAllByRole("listitem").filter((li) => li.tabIndex === 0).map((li) => li.textContent);
const press = (key: string) => fireEvent.keyDown(document.activeElement as Element, { key });

describe("useRovingFocus", () => {
  it("gives the list one Tab stop: the open row, else the first (and none for an empty list)", () => {
    const { rerender } = render(<List />);
    expect(tabStops()).toEqual(["c0"]);
    rerender(<List preferred="c4" />);
    expect(tabStops()).toEqual(["c4"]);
    rerender(<List preferred="gone" />); // the open conversation is not in this list
    expect(tabStops()).toEqual(["c0"]);
    rerender(<List ids={[]} />);
    expect(tabStops()).toEqual([]);
    const { result } = renderHook(() => useRovingFocus([], null));
    expect(result.current.active).toBeNull();
  });

  it("moves the focus and the Tab stop with the arrows, Home and End, and stops at the ends", () => {
    render(<List />);
    act(() => row("c0").focus());
    expect(press("ArrowDown")).toBe(false); // handled: the page does not scroll
    expect(document.activeElement).toBe(row("c1"));
    expect(tabStops()).toEqual(["c1"]);
    press("End");
    expect(document.activeElement).toBe(row("c9"));
    press("ArrowDown");
    expect(document.activeElement).toBe(row("c9"));
    press("Home");
    expect(document.activeElement).toBe(row("c0"));
    press("ArrowUp");
    expect(document.activeElement).toBe(row("c0"));
    expect(tabStops()).toEqual(["c0"]);
  });

  it("moves a page at a time with Page Down and Page Up, clamped to the list", () => {
    render(<List page={4} />);
    act(() => row("c0").focus());
    press("PageDown");
    expect(document.activeElement).toBe(row("c4"));
    press("PageDown");
    press("PageDown");
    expect(document.activeElement).toBe(row("c9"));
    press("PageUp");
    expect(document.activeElement).toBe(row("c5"));
  });

  it("leaves other keys alone (Enter opens, letters are shortcuts)", () => {
    render(<List />);
    act(() => row("c2").focus());
    expect(press("Enter")).toBe(true);
    expect(press("j")).toBe(true);
    expect(document.activeElement).toBe(row("c2"));
  });

  it("keeps the Tab stop on the row last focused, until that row leaves the list", () => {
    const { rerender } = render(<List preferred="c1" />);
    act(() => row("c6").focus());
    expect(tabStops()).toEqual(["c6"]);
    rerender(<List preferred="c1" ids={IDS.filter((id) => id !== "c6")} />);
    expect(tabStops()).toEqual(["c1"]);
  });

  it("in a virtual list, reveals a row not rendered yet and focuses it once it is", () => {
    render(<List window={3} />);
    expect(screen.queryByText("c9")).toBeNull();
    act(() => row("c0").focus());
    press("End");
    expect(document.activeElement).toBe(row("c9"));
    press("Home");
    expect(document.activeElement).toBe(row("c0"));
    press("PageDown");
    expect(document.activeElement).toBe(row("c9")); // 10 rows a page by default: clamped to the last
  });
});

describe("useFileDrop", () => {
  const file = new File(["x"], "parcel.png", { type: "image/png" });
  const files = (list: File[] = [file]) => ({ dataTransfer: { types: ["Files"], files: list, dropEffect: "none" } });
  const text = { dataTransfer: { types: ["text/plain"], files: [], dropEffect: "none" } };

  function Zone({ onFiles, enabled = true }: { onFiles: (files: File[]) => void; enabled?: boolean }) {
    const drop = useFileDrop(onFiles, enabled);
    return (
      <section aria-label="Conversation" {...drop.handlers}>
        <p>{drop.dragging ? "Drop files to attach them" : "idle"}</p>
        <div data-testid="inner" />
      </section>
    );
  }

  it("shows where files go while they are dragged over, through the element's children too", () => {
    render(<Zone onFiles={vi.fn()} />);
    const zone = screen.getByRole("region", { name: "Conversation" });
    expect(fireEvent.dragEnter(zone, files())).toBe(false);
    expect(screen.getByText("Drop files to attach them")).toBeTruthy();
    // Entering a child then leaving the parent: still over the element.
    fireEvent.dragEnter(screen.getByTestId("inner"), files());
    fireEvent.dragLeave(zone);
    expect(screen.getByText("Drop files to attach them")).toBeTruthy();
    fireEvent.dragLeave(screen.getByTestId("inner"));
    expect(screen.getByText("idle")).toBeTruthy();
  });

  it("accepts the drop as a copy and hands over the files", () => {
    const onFiles = vi.fn();
    render(<Zone onFiles={onFiles} />);
    const zone = screen.getByRole("region", { name: "Conversation" });
    fireEvent.dragEnter(zone, files());
    const over = files();
    expect(fireEvent.dragOver(zone, over)).toBe(false); // the element is a drop target
    expect(over.dataTransfer.dropEffect).toBe("copy");
    expect(fireEvent.drop(zone, files())).toBe(false); // the browser does not open the file
    expect(onFiles).toHaveBeenCalledWith([file]);
    expect(screen.getByText("idle")).toBeTruthy();
  });

  it("ignores dragged text, a drop of no files, and everything while disabled", () => {
    const onFiles = vi.fn();
    const { rerender } = render(<Zone onFiles={onFiles} />);
    const zone = screen.getByRole("region", { name: "Conversation" });
    expect(fireEvent.dragEnter(zone, text)).toBe(true);
    expect(fireEvent.drop(zone, text)).toBe(true);
    expect(screen.getByText("idle")).toBeTruthy();
    fireEvent.drop(zone, files([]));
    rerender(<Zone onFiles={onFiles} enabled={false} />); // a closed conversation
    expect(fireEvent.dragEnter(zone, files())).toBe(true);
    expect(screen.getByText("idle")).toBeTruthy();
    fireEvent.drop(zone, files());
    expect(onFiles).not.toHaveBeenCalled();
  });

  it("forgets an unbalanced drag once the files are dropped", () => {
    const onFiles = vi.fn();
    render(<Zone onFiles={onFiles} />);
    const zone = screen.getByRole("region", { name: "Conversation" });
    fireEvent.dragEnter(zone, files());
    fireEvent.dragEnter(screen.getByTestId("inner"), files());
    fireEvent.drop(screen.getByTestId("inner"), files());
    expect(screen.getByText("idle")).toBeTruthy();
    // The next drag starts from nothing: one leave ends it.
    fireEvent.dragEnter(zone, files());
    fireEvent.dragLeave(zone);
    expect(screen.getByText("idle")).toBeTruthy();
  });
});

describe("useSoundPreference", () => {
  beforeEach(() => localStorage.clear());

  it("is on by default, and remembers being switched off and on across reloads", () => {
    const first = renderHook(() => useSoundPreference());
    expect(first.result.current[0]).toBe(true);
    act(() => first.result.current[1](false));
    expect(first.result.current[0]).toBe(false);
    expect(localStorage.getItem("parley.sound")).toBe("off");
    first.unmount();
    const reloaded = renderHook(() => useSoundPreference());
    expect(reloaded.result.current[0]).toBe(false);
    act(() => reloaded.result.current[1](true));
    expect(reloaded.result.current[0]).toBe(true);
    expect(localStorage.getItem("parley.sound")).toBe("on");
  });

  it("still switches for this page when the browser keeps no storage", () => {
    vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => {
      throw new DOMException("storage is off", "SecurityError");
    });
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("storage is off", "SecurityError");
    });
    const { result } = renderHook(() => useSoundPreference());
    expect(result.current[0]).toBe(true);
    act(() => result.current[1](false));
    expect(result.current[0]).toBe(false);
  });
});
