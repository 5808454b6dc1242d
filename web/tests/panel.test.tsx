import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { AssignControl } from "../src/components/AssignControl";
import { ChatHeader } from "../src/components/ChatHeader";
import { ContactPanel } from "../src/components/ContactPanel";
import { ConversationPanel, ConversationSheet } from "../src/components/ConversationPanel";
import { LabelsControl } from "../src/components/LabelsControl";
import { MergeDialog } from "../src/components/MergeDialog";
import { PanelOpener } from "../src/hooks/usePanel";
import { keys } from "../src/lib/cache";
import type { Conversation } from "../src/types";
import { deskApi, result, seriousViolations } from "./desk_harness";
import { conversationRow } from "./fakes";

const vip = { label_id: "vip", name: "VIP", colour: "#d93f0b" };
const refund = { label_id: "refund", name: "Refund", colour: "#0e8a16" };
const agents = {
  items: [
    { agent_id: "alice", display_name: "Alice Martin", availability: "online", online: true },
    { agent_id: "bob", display_name: "Bob Stone", availability: "away", online: false },
  ],
};
const carol = (extra: Partial<Conversation> = {}) =>
  conversationRow("c1", { client_id: "c-1", client_name: "Carol Jensen", summary: "Parcel", position: 10, ...extra });
const other = conversationRow("c2", { client_id: "c-1", client_name: "Carol Jensen", summary: "Invoice", channel: "email" });
const closedOne = conversationRow("c3", { client_id: "c-1", client_name: "Carol Jensen", summary: "Old", status: "closed" });

function routes(row: Conversation, after: Conversation) {
  return {
    "GET /api/agents": agents,
    "GET /api/teams": { items: [{ team_id: "billing", name: "Billing" }] },
    "GET /api/labels": { items: [vip, refund] },
    "GET /api/conversations/c1": (call: { query: URLSearchParams }) => (call.query.get("min_position") ? after : row),
    "GET /api/conversations": { items: [row, other, closedOne], next_cursor: null },
    "POST /api/conversations/c1/assignment": result(20),
    "POST /api/conversations/c1/labels": result(21),
    "DELETE /api/conversations/c1/labels/vip": result(22),
    "POST /api/conversations/c1/merge": result(23),
  };
}

describe("the assign control", () => {
  it("assigns to me, to an agent (saying who is away) and to a team; the fresh row replaces the cached one", async () => {
    const row = carol();
    const after = carol({ assignee_id: "alice", assignee_name: "Alice Martin", position: 20 });
    const desk = deskApi(routes(row, after));
    desk.client.setQueryData(keys.conversation("c1"), row);
    render(<AssignControl conversation={row} />, { wrapper: desk.wrapper });
    expect(screen.getByTestId("panel-assignee").textContent).toBe("Nobody");
    await screen.findByRole("option", { name: "Bob Stone (away)" });

    fireEvent.click(screen.getByRole("button", { name: "Assign to me" }));
    await waitFor(() => expect(desk.client.getQueryData<Conversation>(keys.conversation("c1"))?.assignee_id).toBe("alice"));
    expect(desk.of("POST", "/api/conversations/c1/assignment")[0]?.body).toMatchObject({ agent_id: "alice" });
    expect(desk.of("GET", "/api/conversations/c1")[0]?.query.get("min_position")).toBe("20");

    fireEvent.change(screen.getByRole("combobox", { name: "Assign to an agent" }), { target: { value: "bob" } });
    await waitFor(() => expect(desk.of("POST", "/api/conversations/c1/assignment")).toHaveLength(2));
    expect(desk.of("POST", "/api/conversations/c1/assignment")[1]?.body).toMatchObject({ agent_id: "bob" });

    await screen.findByRole("option", { name: "Billing" });
    fireEvent.change(screen.getByRole("combobox", { name: "Assign to a team" }), { target: { value: "billing" } });
    await waitFor(() => expect(desk.of("POST", "/api/conversations/c1/assignment")).toHaveLength(3));
    const body = desk.of("POST", "/api/conversations/c1/assignment")[2]?.body;
    expect(body).toMatchObject({ team_id: "billing" });
    expect(body).not.toHaveProperty("agent_id");
  });

  it("is disabled on a closed conversation and shows a refusal", async () => {
    const desk = deskApi({ ...routes(carol(), carol()), "POST /api/conversations/c1/assignment": new Response(JSON.stringify({ code: "agent_not_found", message: "no such agent" }), { status: 404 }) });
    const { rerender } = render(<AssignControl conversation={carol({ status: "closed" })} />, { wrapper: desk.wrapper });
    expect(screen.getByRole("button", { name: "Assign to me" })).toHaveProperty("disabled", true);
    expect(screen.getByText("Reopen the conversation to assign it.")).toBeTruthy();
    rerender(<AssignControl conversation={carol()} />);
    fireEvent.click(screen.getByRole("button", { name: "Assign to me" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Cannot assign: no such agent (agent_not_found)");
  });
});

describe("the labels control", () => {
  it("lists the labels on, takes one off, and offers only the others to put on", async () => {
    const row = carol({ labels: [vip] });
    const desk = deskApi(routes(row, carol({ labels: [vip, refund], position: 21 })));
    render(<LabelsControl conversation={row} />, { wrapper: desk.wrapper });
    expect(screen.getByTestId("panel-labels").textContent).toBe("VIP×");
    await screen.findByRole("option", { name: "Refund" });
    expect(screen.queryByRole("option", { name: "VIP" })).toBeNull();

    fireEvent.change(screen.getByRole("combobox", { name: "Add a label" }), { target: { value: "refund" } });
    await waitFor(() => expect(desk.of("POST", "/api/conversations/c1/labels")).toHaveLength(1));
    expect(desk.of("POST", "/api/conversations/c1/labels")[0]?.body).toMatchObject({ label_id: "refund" });

    fireEvent.click(screen.getByRole("button", { name: "Remove label VIP" }));
    await waitFor(() => expect(desk.of("DELETE", "/api/conversations/c1/labels/vip")).toHaveLength(1));
    expect(desk.of("DELETE", "/api/conversations/c1/labels/vip")[0]?.query.get("command_id")).toBeTruthy();
  });
});

describe("the contact panel", () => {
  it("shows the client and links that open their other conversations", () => {
    const onOpen = vi.fn();
    render(<ContactPanel conversation={carol()} others={[other]} loading={false} error={null} onOpen={onOpen} />);
    const panel = screen.getByTestId("contact-panel");
    expect(panel.textContent).toContain("Carol Jensen");
    expect(panel.textContent).toContain("c-1");
    const link = screen.getByRole("link", { name: /Invoice/ });
    expect(link.getAttribute("href")).toBe("#/c/c2");
    fireEvent.click(link);
    expect(onOpen).toHaveBeenCalledWith("c2");
  });

  it("says when there are none", () => {
    render(<ContactPanel conversation={carol()} others={[]} loading={false} error={null} onOpen={vi.fn()} />);
    expect(screen.getByTestId("contact-panel").textContent).toContain("None.");
  });
});

describe("the merge dialog", () => {
  it("asks which conversation and confirms; Cancel does nothing", () => {
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    render(<MergeDialog source={carol()} targets={[other, conversationRow("c4", { summary: "Return" })]} busy={false} error={null} onConfirm={onConfirm} onCancel={onCancel} />);
    const dialog = screen.getByRole("dialog", { name: "Merge into another conversation?" });
    expect(dialog.textContent).toContain("cannot be undone");
    const merge = screen.getByRole("button", { name: "Merge" });
    expect(merge).toHaveProperty("disabled", true); // nothing chosen yet
    fireEvent.click(screen.getByRole("radio", { name: /Return/ }));
    fireEvent.click(merge);
    expect(onConfirm).toHaveBeenCalledWith("c4");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalled();
  });
});

describe("the conversation panel", () => {
  it("merges after the confirmation, then opens the target; closed ones are no target", async () => {
    const row = carol();
    const desk = deskApi(routes(row, carol({ status: "closed", merged_into: "c2", position: 23 })));
    desk.client.setQueryData(keys.conversation("c1"), row);
    const onOpen = vi.fn();
    const { container } = render(<ConversationPanel conversationId="c1" onOpen={onOpen} />, { wrapper: desk.wrapper });
    await screen.findByRole("link", { name: /Invoice/ });
    expect(screen.getByRole("link", { name: /Old/ })).toBeTruthy(); // listed, not a target
    expect(desk.of("GET", "/api/conversations")[0]?.query.get("client_id")).toBe("c-1");
    expect(await seriousViolations(container)).toEqual([]);

    fireEvent.click(screen.getByRole("button", { name: "Merge into another conversation…" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).queryByRole("radio", { name: /Old/ })).toBeNull();
    expect(within(dialog).getByRole("radio", { name: /Invoice/ })).toHaveProperty("checked", true); // the only one
    expect(await seriousViolations(document.body)).toEqual([]);
    fireEvent.click(within(dialog).getByRole("button", { name: "Merge" }));
    await waitFor(() => expect(onOpen).toHaveBeenCalledWith("c2"));
    expect(desk.of("POST", "/api/conversations/c1/merge")[0]?.body).toMatchObject({ into: "c2" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  });

  it("in a sheet: a titled dialog; Done closes it, opening another conversation too", async () => {
    const row = carol();
    const desk = deskApi(routes(row, row));
    desk.client.setQueryData(keys.conversation("c1"), row);
    const onClose = vi.fn();
    const onOpen = vi.fn();
    render(<ConversationSheet conversationId="c1" onOpen={onOpen} onClose={onClose} />, { wrapper: desk.wrapper });
    const sheet = screen.getByRole("dialog", { name: "Conversation details" });
    expect(document.activeElement).toBe(within(sheet).getByRole("button", { name: "Done" }));
    fireEvent.click(await screen.findByRole("link", { name: /Invoice/ }));
    expect(onClose).toHaveBeenCalled();
    expect(onOpen).toHaveBeenCalledWith("c2");
    expect(await seriousViolations(document.body)).toEqual([]);
  });
});

describe("the chat header", () => {
  it("offers Details where the panel is not beside the chat", () => {
    const open = vi.fn();
    const header = <ChatHeader conversation={carol()} busy={false} onAction={vi.fn()} onBack={vi.fn()} />;
    const { rerender } = render(header);
    expect(screen.queryByRole("button", { name: "Details" })).toBeNull();
    rerender(<PanelOpener.Provider value={open}>{header}</PanelOpener.Provider>);
    fireEvent.click(screen.getByRole("button", { name: "Details" }));
    expect(open).toHaveBeenCalled();
  });
});
