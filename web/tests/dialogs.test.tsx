/** The modal pieces on their own: the Dialog frame, the close confirmation,
 * the image lightbox, and the sign-in form. */
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useRef, useState, type ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CloseDialog } from "../src/components/CloseDialog";
import { Dialog } from "../src/components/Dialog";
import { Lightbox } from "../src/components/Lightbox";
import { SignIn } from "../src/components/SignIn";
import { seriousViolations } from "./desk_harness";

/** An opener button and, once it is clicked, what `open` renders (given a way to close it). */
function Opener({ open }: { open: (close: () => void) => ReactNode }) {
  const [shown, setShown] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setShown(true)}>
        Open
      </button>
      {shown && open(() => setShown(false))}
    </>
  );
}

/** Click the opener as a user would: it has the focus when the click lands. */
function openWith(name = "Open") {
  const opener = screen.getByRole("button", { name });
  act(() => opener.focus());
  fireEvent.click(opener);
  return opener;
}

function Form({ onCancel, disabledLast = false }: { onCancel: () => void; disabledLast?: boolean }) {
  const field = useRef<HTMLInputElement>(null);
  return (
    <Dialog title="Rename" onCancel={onCancel} initialFocus={field}>
      <input ref={field} aria-label="Name" />
      <button type="button">Save</button>
      <button type="button" disabled={disabledLast}>
        Later
      </button>
    </Dialog>
  );
}

describe("Dialog", () => {
  it("is a modal dialog named by its title, focusing the given control and giving focus back on closing", () => {
    render(<Opener open={(close) => <Form onCancel={close} />} />);
    const opener = openWith();
    const dialog = screen.getByRole("dialog", { name: "Rename" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement).toBe(screen.getByLabelText("Name"));
    fireEvent.keyDown(document.activeElement as Element, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it("keeps Tab and Shift+Tab inside, skipping disabled controls, and lets Tab move freely in between", () => {
    render(<Form onCancel={vi.fn()} disabledLast />);
    const dialog = screen.getByRole("dialog");
    const name = screen.getByLabelText("Name");
    const save = screen.getByRole("button", { name: "Save" });
    act(() => save.focus());
    expect(fireEvent.keyDown(dialog, { key: "Tab" })).toBe(false); // Later is disabled: Save is the last
    expect(document.activeElement).toBe(name);
    expect(fireEvent.keyDown(dialog, { key: "Tab", shiftKey: true })).toBe(false);
    expect(document.activeElement).toBe(save);
    // Away from the ends the browser moves the focus itself: nothing is prevented.
    act(() => name.focus());
    expect(fireEvent.keyDown(dialog, { key: "Tab" })).toBe(true);
    expect(document.activeElement).toBe(name);
  });

  it("cancels on a click outside, not on a click inside", () => {
    const onCancel = vi.fn();
    render(<Form onCancel={onCancel} />);
    fireEvent.mouseDown(screen.getByRole("button", { name: "Save" }));
    expect(onCancel).not.toHaveBeenCalled();
    fireEvent.mouseDown(screen.getByRole("dialog").parentElement as HTMLElement);
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it("copes with a dialog that has no control to focus", () => {
    const none = { current: null };
    render(
      <Dialog title="Note" onCancel={vi.fn()} initialFocus={none}>
        <p>Nothing to do.</p>
      </Dialog>,
    );
    expect(fireEvent.keyDown(screen.getByRole("dialog", { name: "Note" }), { key: "Tab" })).toBe(true);
  });
});

describe("CloseDialog", () => {
  const closeDialog = () => {
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    render(<CloseDialog clientName="Carol Jensen" onConfirm={onConfirm} onCancel={onCancel} />);
    return { onConfirm, onCancel, reason: screen.getByRole<HTMLTextAreaElement>("textbox", { name: "Reason (optional)" }) };
  };

  it("asks to confirm, names the client, starts in the reason field and passes no check of axe", async () => {
    const { reason } = closeDialog();
    const dialog = screen.getByRole("dialog", { name: "Close this conversation?" });
    expect(dialog.textContent).toContain("The conversation with Carol Jensen moves to Closed");
    expect(document.activeElement).toBe(reason);
    const hint = document.getElementById(reason.getAttribute("aria-describedby") ?? "");
    expect(hint?.textContent).toBe("Shown in the timeline. 0 / 500");
    expect(await seriousViolations(document.body)).toEqual([]);
  });

  it("confirms without a reason, or with the reason trimmed", () => {
    const { onConfirm, reason } = closeDialog();
    fireEvent.change(reason, { target: { value: "   " } });
    fireEvent.click(screen.getByRole("button", { name: "Close conversation" }));
    expect(onConfirm).toHaveBeenLastCalledWith(undefined);
    fireEvent.change(reason, { target: { value: "  Parcel found \n" } });
    fireEvent.click(screen.getByRole("button", { name: "Close conversation" }));
    expect(onConfirm).toHaveBeenLastCalledWith("Parcel found");
  });

  it("refuses a reason over 500 characters, saying so on the field and the counter", () => {
    const { onConfirm, reason } = closeDialog();
    fireEvent.change(reason, { target: { value: "x".repeat(500) } });
    expect(reason.getAttribute("aria-invalid")).toBeNull();
    fireEvent.change(reason, { target: { value: "x".repeat(501) } });
    expect(reason.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText(/501 \/ 500/)).toBeTruthy();
    const confirm = screen.getByRole<HTMLButtonElement>("button", { name: "Close conversation" });
    expect(confirm.disabled).toBe(true);
    fireEvent.submit(confirm.closest("form") as HTMLFormElement); // Enter in a field, say
    expect(onConfirm).not.toHaveBeenCalled();
  });

  it("cancels by its button and by Escape, closing nothing", () => {
    const { onConfirm, onCancel, reason } = closeDialog();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.keyDown(reason, { key: "Escape" });
    expect(onCancel).toHaveBeenCalledTimes(2);
    expect(onConfirm).not.toHaveBeenCalled();
  });
});

describe("Lightbox", () => {
  const URL_ = "https://files.test/a1/content";

  it("shows the image named in its label with a Download link, focused on Close, focus back on the thumbnail after", () => {
    render(<Opener open={(close) => <Lightbox name="parcel.png" url={URL_} onClose={close} />} />);
    const thumbnail = openWith();
    const dialog = screen.getByRole("dialog", { name: "Image: parcel.png" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(screen.getByRole("img", { name: "parcel.png" }).getAttribute("src")).toBe(URL_);
    const download = screen.getByRole("link", { name: "Download" });
    expect([download.getAttribute("href"), download.getAttribute("download")]).toEqual([URL_, "parcel.png"]);
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Close" }));
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(thumbnail);
  });

  it("cycles Tab and Shift+Tab over its two controls, or stays on Close alone", () => {
    const { rerender } = render(<Lightbox name="parcel.png" url={URL_} onClose={vi.fn()} />);
    const dialog = screen.getByRole("dialog");
    const close = screen.getByRole("button", { name: "Close" });
    fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByRole("link", { name: "Download" }));
    fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(close);
    fireEvent.keyDown(dialog, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(screen.getByRole("link", { name: "Download" }));
    rerender(<Lightbox name="parcel.png" url={null} onClose={vi.fn()} />);
    act(() => close.focus());
    expect(fireEvent.keyDown(dialog, { key: "Tab" })).toBe(false);
    expect(document.activeElement).toBe(close);
  });

  it("closes on Escape without the Escape reaching a dialog beneath, and on a click outside only", () => {
    const onClose = vi.fn();
    const beneath = vi.fn();
    render(
      <div onKeyDown={beneath}>
        <Lightbox name="parcel.png" url={URL_} onClose={onClose} />
      </div>,
    );
    fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(beneath).not.toHaveBeenCalled();
    fireEvent.mouseDown(screen.getByRole("img"));
    expect(onClose).toHaveBeenCalledTimes(1);
    fireEvent.mouseDown(screen.getByRole("dialog").parentElement as HTMLElement);
    expect(onClose).toHaveBeenCalledTimes(2);
  });

  it("says Loading… while the URL is asked for, and 'image unavailable' (no Download) when it fails or breaks", () => {
    const { rerender } = render(<Lightbox name="parcel.png" url={undefined} onClose={vi.fn()} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    expect(screen.queryByRole("link")).toBeNull();
    rerender(<Lightbox name="parcel.png" url={null} failed onClose={vi.fn()} />);
    expect(screen.getByText("parcel.png — image unavailable")).toBeTruthy();
    rerender(<Lightbox name="parcel.png" url={URL_} onClose={vi.fn()} />);
    fireEvent.error(screen.getByRole("img"));
    expect(screen.getByText("parcel.png — image unavailable")).toBeTruthy();
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.queryByRole("link", { name: "Download" })).toBeNull();
  });

  it("never uses a URL that is not http(s)", () => {
    render(<Lightbox name="x.png" url="javascript:alert(1)" onClose={vi.fn()} />);
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.queryByRole("link")).toBeNull();
  });
});

describe("SignIn", () => {
  afterEach(() => vi.unstubAllGlobals());

  const part = (data: object) => btoa(JSON.stringify(data)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const token = (claims: object) => `${part({ alg: "HS256" })}.${part(claims)}.sig`;
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  /** The server's answers: `/web/config` and `/web/dev-sign-in`. */
  function server(config: Response | Error, devSignIn: Response | Error = new Response("{}", { status: 404 })) {
    const fetch = vi.fn(async (url: RequestInfo | URL) => {
      const answer = String(url) === "/web/config" ? config : devSignIn;
      if (answer instanceof Error) throw answer;
      return answer.clone();
    });
    vi.stubGlobal("fetch", fetch);
    return fetch;
  }

  const signIn = (problem?: string) => {
    const onToken = vi.fn();
    render(<SignIn onToken={onToken} problem={problem ?? null} />);
    const field = screen.getByRole<HTMLTextAreaElement>("textbox", { name: "Access token" });
    const submit = (value: string) => {
      fireEvent.change(field, { target: { value } });
      fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    };
    return { onToken, field, submit };
  };

  it("accepts a staff token that has not expired, trimmed of the spaces a paste brings", async () => {
    server(new Response(JSON.stringify({ dev_sign_in: false })));
    const { onToken, field, submit } = signIn();
    const good = token({ sub: "alice", role: "agent", exp: inAnHour() });
    submit(`  ${good}\n`);
    expect(onToken).toHaveBeenCalledWith(good);
    expect(field.getAttribute("aria-invalid")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
    await waitFor(() => expect(vi.mocked(fetch)).toHaveBeenCalledWith("/web/config"));
    expect(screen.queryByRole("button", { name: "Dev sign-in" })).toBeNull();
  });

  it("says why a token is refused, in an alert, the field marked invalid", () => {
    server(new Error("offline"));
    const { onToken, field, submit } = signIn();
    submit("");
    expect(screen.getByRole("alert").textContent).toBe("This is not a Parley access token.");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    submit(token({ sub: "carol", role: "client", exp: inAnHour() }));
    expect(screen.getByRole("alert").textContent).toBe("This token is not a staff token.");
    submit(token({ sub: "alice", role: "admin", exp: Math.floor(Date.now() / 1000) - 1 }));
    expect(screen.getByRole("alert").textContent).toBe("This token has expired.");
    expect(onToken).not.toHaveBeenCalled();
  });

  it("shows the problem it was opened with (the session ended, say)", () => {
    server(new Response("", { status: 500 }));
    signIn("Your session has ended: sign in again.");
    expect(screen.getByRole("alert").textContent).toBe("Your session has ended: sign in again.");
  });

  it("offers a dev sign-in only when the server says so, and signs in with its token", async () => {
    const fetch = server(new Response(JSON.stringify({ dev_sign_in: true })), new Response(JSON.stringify({ token: "dev.tok.en" })));
    const { onToken } = signIn();
    fireEvent.click(await screen.findByRole("button", { name: "Dev sign-in" }));
    await waitFor(() => expect(onToken).toHaveBeenCalledWith("dev.tok.en"));
    expect(fetch).toHaveBeenCalledWith("/web/dev-sign-in", { method: "POST" });
  });

  it("says the dev sign-in failed when the server refuses it or cannot be reached", async () => {
    server(new Response(JSON.stringify({ dev_sign_in: true })), new Response("{}", { status: 403 }));
    const { onToken } = signIn();
    fireEvent.click(await screen.findByRole("button", { name: "Dev sign-in" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Dev sign-in failed.");
    cleanup();
    server(new Response(JSON.stringify({ dev_sign_in: true })), new TypeError("Failed to fetch"));
    const again = signIn();
    fireEvent.click(await screen.findByRole("button", { name: "Dev sign-in" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Dev sign-in failed.");
    expect(onToken).not.toHaveBeenCalled();
    expect(again.onToken).not.toHaveBeenCalled();
  });
});
