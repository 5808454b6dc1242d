/** The composer's small parts, each on its own: the typing line, the file
 * picker, the reply/note switch, the suggestion listbox, the stale-action
 * banner, and the icons beside their words. */
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ACCEPT, AttachmentPicker } from "../src/components/AttachmentPicker";
import { BrokenImageIcon, LockIcon, PaperclipIcon } from "../src/components/Icons";
import { NoteToggle } from "../src/components/NoteToggle";
import { StaleBanner } from "../src/components/StaleBanner";
import { optionId, SuggestionList } from "../src/components/SuggestionList";
import { TypingIndicator } from "../src/components/TypingIndicator";
import type { Suggestions } from "../src/hooks/useSuggestions";
import type { Refusal } from "../src/hooks/useStaleGuard";

describe("TypingIndicator", () => {
  it("keeps an empty polite live region while nobody types, so the first typist is announced", () => {
    const { container } = render(<TypingIndicator typists={[]} />);
    const region = container.firstElementChild as HTMLElement;
    expect(region.getAttribute("aria-live")).toBe("polite");
    expect(region.textContent).toBe("");
    expect(screen.queryByTestId("typing-indicator")).toBeNull();
  });

  it("says who is typing in words, with one or several typists, the dots hidden from screen readers", () => {
    const { container, rerender } = render(<TypingIndicator typists={["Bob Stone"]} />);
    const region = container.firstElementChild as HTMLElement;
    expect(region.textContent).toBe("Bob Stone is typing");
    expect(screen.getByTestId("typing-indicator").querySelector('[aria-hidden="true"]')?.childElementCount).toBe(3);
    rerender(<TypingIndicator typists={["Bob Stone", "Cy Young"]} />);
    expect(region.textContent).toBe("Bob Stone, Cy Young are typing");
    // The same live region is updated, not replaced (a new region is not announced).
    expect(container.firstElementChild).toBe(region);
  });
});

describe("AttachmentPicker", () => {
  const file = (name: string, type = "image/png") => new File(["x"], name, { type });

  it("is a labelled button that opens the hidden file chooser for several files of the accepted types", () => {
    const click = vi.spyOn(HTMLInputElement.prototype, "click").mockImplementation(() => undefined);
    render(<AttachmentPicker onFiles={vi.fn()} />);
    const input = screen.getByLabelText<HTMLInputElement>("Choose files to attach");
    expect(input.type).toBe("file");
    expect(input.multiple).toBe(true);
    expect(input.hidden).toBe(true);
    expect(input.accept).toBe(ACCEPT);
    expect(ACCEPT.split(",")).toEqual(expect.arrayContaining(["image/png", "application/pdf", "text/plain"]));
    fireEvent.click(screen.getByRole("button", { name: "Attach files" }));
    expect(click).toHaveBeenCalledTimes(1);
    expect(click.mock.contexts[0]).toBe(input);
  });

  it("hands over the chosen files, and the same file may be chosen again", () => {
    const onFiles = vi.fn();
    render(<AttachmentPicker onFiles={onFiles} />);
    const input = screen.getByLabelText<HTMLInputElement>("Choose files to attach");
    // jsdom keeps no file name in `value`: watch what the picker writes to it.
    const written: string[] = [];
    Object.defineProperty(input, "value", { configurable: true, get: () => "C:\\fakepath\\a.png", set: (v: string) => written.push(v) });
    const chosen = [file("a.png"), file("b.pdf", "application/pdf")];
    fireEvent.change(input, { target: { files: chosen } });
    expect(onFiles).toHaveBeenCalledWith(chosen);
    expect(written).toEqual([""]); // cleared: choosing a.png again fires change again
    fireEvent.change(input, { target: { files: [chosen[0]] } });
    expect(onFiles).toHaveBeenLastCalledWith([chosen[0]]);
  });

  it("does nothing when the chooser is cancelled (no files), and cannot be used when disabled", () => {
    const onFiles = vi.fn();
    const click = vi.spyOn(HTMLInputElement.prototype, "click").mockImplementation(() => undefined);
    const { rerender } = render(<AttachmentPicker onFiles={onFiles} />);
    fireEvent.change(screen.getByLabelText("Choose files to attach"), { target: { files: [] } });
    expect(onFiles).not.toHaveBeenCalled();
    rerender(<AttachmentPicker onFiles={onFiles} disabled />);
    const button = screen.getByRole<HTMLButtonElement>("button", { name: "Attach files" });
    expect(button.disabled).toBe(true);
    fireEvent.click(button);
    expect(click).not.toHaveBeenCalled();
  });
});

describe("NoteToggle", () => {
  it("is a labelled group of two toggle buttons, the current mode pressed", () => {
    const onMode = vi.fn();
    const { rerender } = render(<NoteToggle mode="reply" onMode={onMode} />);
    const group = screen.getByRole("group", { name: "Write a reply or a private note" });
    const reply = within(group).getByRole("button", { name: "Reply" });
    const note = within(group).getByRole("button", { name: "Note" });
    expect([reply.getAttribute("aria-pressed"), note.getAttribute("aria-pressed")]).toEqual(["true", "false"]);
    fireEvent.click(note);
    expect(onMode).toHaveBeenCalledWith("note");
    rerender(<NoteToggle mode="note" onMode={onMode} />);
    expect([reply.getAttribute("aria-pressed"), note.getAttribute("aria-pressed")]).toEqual(["false", "true"]);
    fireEvent.click(reply);
    expect(onMode).toHaveBeenLastCalledWith("reply");
  });

  it("disables both buttons together", () => {
    const onMode = vi.fn();
    render(<NoteToggle mode="reply" onMode={onMode} disabled />);
    for (const button of screen.getAllByRole<HTMLButtonElement>("button")) {
      expect(button.disabled).toBe(true);
      fireEvent.click(button);
    }
    expect(onMode).not.toHaveBeenCalled();
  });
});

describe("SuggestionList", () => {
  const suggestions = (extra: Partial<Suggestions> = {}): Suggestions => ({
    kind: "mention",
    items: [
      { id: "bob", label: "Bob Stone", detail: "@BobStone" },
      { id: "cy", label: "Cy Young", detail: "@CyYoung" },
    ],
    active: 0,
    loading: false,
    setActive: vi.fn(),
    pick: vi.fn(),
    onKeyDown: vi.fn(() => false),
    ...extra,
  });

  it("renders nothing while closed", () => {
    const { container } = render(<SuggestionList id="s" suggestions={suggestions({ kind: null })} />);
    expect(container.innerHTML).toBe("");
  });

  it("is a labelled listbox whose options have the ids the text box points at, the active one selected", () => {
    const { rerender } = render(<SuggestionList id="s" suggestions={suggestions()} />);
    const list = screen.getByRole("listbox", { name: "Mention a colleague" });
    expect(list.id).toBe("s");
    const options = within(list).getAllByRole("option");
    expect(options.map((o) => o.id)).toEqual([optionId("s", 0), optionId("s", 1)]);
    expect(options.map((o) => o.getAttribute("aria-selected"))).toEqual(["true", "false"]);
    expect(options[1]?.textContent).toBe("Cy Young @CyYoung");
    rerender(<SuggestionList id="s" suggestions={suggestions({ active: 1 })} />);
    expect(options.map((o) => o.getAttribute("aria-selected"))).toEqual(["false", "true"]);
    // The key hint is for the eyes: the listbox's own label names it.
    expect(screen.getByText(/to choose, Enter to insert/).getAttribute("aria-hidden")).toBe("true");
  });

  it("follows the pointer and picks on click without taking the focus from the text box", () => {
    const given = suggestions();
    render(<SuggestionList id="s" suggestions={given} />);
    const option = screen.getByRole("option", { name: /Cy Young/ });
    fireEvent.mouseEnter(option);
    expect(given.setActive).toHaveBeenCalledWith(1);
    // mousedown's default (moving the focus) is prevented.
    expect(fireEvent.mouseDown(option)).toBe(false);
    fireEvent.click(option);
    expect(given.pick).toHaveBeenCalledWith(1);
  });

  it("says in a status when it is looking or found nothing, for mentions and canned responses alike", () => {
    const { rerender } = render(<SuggestionList id="s" suggestions={suggestions({ items: [], loading: true })} />);
    expect(screen.queryByRole("listbox")).toBeNull();
    expect(screen.getByRole("status").textContent).toBe("Looking…");
    rerender(<SuggestionList id="s" suggestions={suggestions({ items: [] })} />);
    expect(screen.getByRole("status").textContent).toBe("No colleague by that name");
    rerender(<SuggestionList id="s" suggestions={suggestions({ kind: "canned", items: [] })} />);
    expect(screen.getByRole("status").textContent).toBe("No canned response with that code");
    rerender(<SuggestionList id="s" suggestions={suggestions({ kind: "canned", items: [{ id: "r1", label: "/hello", detail: "Hello!" }] })} />);
    expect(screen.getByRole("listbox", { name: "Canned responses" }).dataset.testid).toBe("canned-list");
  });
});

describe("StaleBanner", () => {
  const refusal = (extra: Partial<Refusal> = {}): Refusal => ({
    version: 8,
    newMessage: true,
    firstSeq: 2,
    refused: [{ clientMessageId: "m-1", content: "On it" }],
    ...extra,
  });

  it("alerts that a new message came and the reply was not sent, offering Send anyway and Review", () => {
    const onSendAnyway = vi.fn();
    const onReview = vi.fn();
    render(<StaleBanner refusal={refusal()} onSendAnyway={onSendAnyway} onReview={onReview} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("A new message arrived while you were typing. Your message was not sent.");
    fireEvent.click(within(alert).getByRole("button", { name: "Send anyway" }));
    expect(onSendAnyway).toHaveBeenCalledTimes(1);
    fireEvent.click(within(alert).getByRole("button", { name: "Review" }));
    expect(onReview).toHaveBeenCalledTimes(1);
  });

  it("speaks of a change (not a message) and counts several refused messages", () => {
    const two = [
      { clientMessageId: "m-1", content: "a" },
      { clientMessageId: "m-2", content: "b" },
    ];
    render(<StaleBanner refusal={refusal({ newMessage: false, firstSeq: null, refused: two })} onSendAnyway={vi.fn()} onReview={vi.fn()} />);
    expect(screen.getByRole("alert").textContent).toContain("The conversation changed while you were typing. Your 2 messages were not sent.");
  });
});

describe("Icons", () => {
  it("are decorative: hidden from assistive technology, so a control is named by its words alone", () => {
    render(
      <>
        <button type="button">
          <PaperclipIcon /> Attach
        </button>
        <span role="note">
          <LockIcon /> Internal
        </span>
        <span role="note">
          <BrokenImageIcon /> unavailable
        </span>
      </>,
    );
    const svgs = [...document.querySelectorAll("svg")];
    expect(svgs).toHaveLength(3);
    for (const svg of svgs) {
      expect(svg.getAttribute("aria-hidden")).toBe("true");
      expect(svg.getAttribute("focusable")).not.toBe("true");
      expect(svg.querySelector("title")).toBeNull();
    }
    expect(screen.getByRole("button").textContent?.trim()).toBe("Attach");
    expect(screen.getByRole("button", { name: "Attach" })).toBeTruthy();
  });
});
