import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import { SearchBox } from "../src/components/SearchBox";
import { SearchResults, Snippet } from "../src/components/SearchResults";
import { SessionProvider, type Session } from "../src/hooks/useApi";
import { searchable } from "../src/hooks/useSearch";
import { ApiClient } from "../src/services/api";
import { decodeEntities, snippetParts, type SearchHit } from "../src/services/search";

describe("snippets", () => {
  it("are text runs with the matches marked, entities decoded", () => {
    expect(snippetParts("my <mark>refund</mark> &amp; the <mark>refunds</mark>")).toEqual([
      { text: "my ", marked: false },
      { text: "refund", marked: true },
      { text: " & the ", marked: false },
      { text: "refunds", marked: true },
    ]);
    expect(decodeEntities("&lt;b&gt; &quot;x&quot; &#x27;y&#39; &bogus; &#0;")).toBe(`<b> "x" 'y' &bogus; &#0;`);
  });

  it("never become markup: a script or an image in the text is shown as text", () => {
    const { container } = render(
      <Snippet snippet={'&lt;img src=x onerror=alert(1)&gt; <script>alert(2)</script> <mark>&lt;b&gt;hi</mark>'} />,
    );
    expect(container.querySelector("img, script, b")).toBeNull();
    expect(container.querySelectorAll("mark")).toHaveLength(1);
    expect(container.querySelector("mark")?.textContent).toBe("<b>hi");
    expect(container.textContent).toBe("<img src=x onerror=alert(1)> <script>alert(2)</script> <b>hi");
  });

  it("are only asked for a text with something to search", () => {
    expect(["", " ", "a", "!!", "?."].map(searchable)).toEqual([false, false, false, false, false]);
    expect(["ab", "refund", " 42 ", "é!"].map(searchable)).toEqual([true, true, true, true]);
  });
});

const hit = (extra: Partial<SearchHit>): SearchHit => ({
  kind: "message",
  id: "m1",
  conversation_id: "c1",
  rank: 1,
  snippet: "where is my <mark>parcel</mark>?",
  position: 10,
  created_at: "2026-11-24T10:00:00Z",
  seq: 1,
  sender: "client",
  author_id: "carol",
  client_id: "c-1",
  client_name: "Carol Jensen",
  status: "active",
  ...extra,
});

function searchBox(pages: { items: SearchHit[]; next_after: string | null }[]) {
  const calls: URL[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL) => {
    calls.push(new URL(String(url), "http://test"));
    return new Response(JSON.stringify(pages.shift() ?? { items: [], next_after: null }));
  });
  const api = new ApiClient({ getToken: () => "tok", fetch: fetch as unknown as typeof globalThis.fetch, retries: 0 });
  const session: Session = { api, token: "tok", identity: { sub: "alice", role: "admin", exp: 2e9 }, wsUrl: () => "" };
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <SessionProvider value={session}>{children}</SessionProvider>
    </QueryClientProvider>
  );
  const onOpen = vi.fn();
  render(
    <>
      <textarea aria-label="Message" />
      <SearchBox onOpen={onOpen} staffName={(id) => (id === "bob" ? "Bob Stone" : id)} />
    </>,
    { wrapper },
  );
  return { calls, onOpen, box: screen.getByRole("searchbox", { name: "Search messages, notes and clients" }) };
}

describe("the search box", () => {
  it("is focused by /, except while typing in a field", () => {
    const { box } = searchBox([]);
    const message = screen.getByLabelText("Message");
    message.focus();
    fireEvent.keyDown(message, { key: "/" });
    expect(document.activeElement).toBe(message);
    (document.activeElement as HTMLElement).blur();
    fireEvent.keyDown(document.body, { key: "/" });
    expect(document.activeElement).toBe(box);
  });

  it("shows hits with marked snippets and who wrote them; choosing one opens its conversation", async () => {
    const { box, calls, onOpen } = searchBox([
      {
        items: [
          hit({}),
          hit({ kind: "note", id: "n1", conversation_id: "c2", client_name: "Dan", sender: null, author_id: "bob", snippet: "<mark>parcel</mark> lost" }),
        ],
        next_after: "cur",
      },
      { items: [hit({ id: "m9", snippet: "another <mark>parcel</mark>" })], next_after: null },
    ]);
    fireEvent.change(box, { target: { value: "parcel" } });
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(2));
    expect(calls[0]?.pathname).toBe("/api/search");
    expect(calls[0]?.searchParams.get("q")).toBe("parcel");
    const [first, second] = screen.getAllByTestId("search-hit");
    expect(first?.textContent).toContain("Carol JensenMessage from the client");
    expect(second?.textContent).toContain("Note by Bob Stone");
    expect(first?.querySelector("mark")?.textContent).toBe("parcel");
    expect(screen.getByRole("status").textContent).toBe("2+ results");

    fireEvent.click(screen.getByRole("button", { name: "More results" }));
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(3));
    expect(calls[1]?.searchParams.get("after")).toBe("cur");

    // Arrow keys move through the hits; Enter on one opens it.
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(document.activeElement).toBe(screen.getAllByTestId("search-hit")[0]);
    fireEvent.keyDown(document.activeElement as HTMLElement, { key: "ArrowDown" });
    fireEvent.click(document.activeElement as HTMLElement);
    expect(onOpen).toHaveBeenCalledWith("c2");
    expect(screen.getByTestId("search-results").hidden).toBe(true);
  });

  it("says when nothing was found; Escape closes the results", async () => {
    const { box, calls } = searchBox([{ items: [], next_after: null }]);
    fireEvent.change(box, { target: { value: "zebra" } });
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Nothing found for “zebra”."));
    expect(calls.map((c) => c.searchParams.get("q"))).toEqual(["zebra"]);
    fireEvent.keyDown(box, { key: "Escape" });
    expect(screen.getByTestId("search-results").hidden).toBe(true);
  });
});

describe("search results", () => {
  it("say who wrote a staff message or a note, and what a system message is", () => {
    const hits = [
      hit({ id: "a", sender: "admin", author_id: "bob" }),
      hit({ id: "b", sender: "system", author_id: null }),
      hit({ id: "c", kind: "conversation", sender: null, author_id: null, snippet: "<mark>Carol</mark> Jensen · c-1" }),
    ];
    render(
      <SearchResults hits={hits} nameOf={(h) => (h.author_id === "bob" ? "Bob Stone" : "?")} onOpen={vi.fn()} hasMore={false} loadingMore={false} onMore={vi.fn()} onEscape={vi.fn()} />,
    );
    const shown = screen.getAllByTestId("search-hit").map((b) => b.textContent ?? "");
    expect(shown[0]).toContain("Message from Bob Stone");
    expect(shown[1]).toContain("System message");
    expect(shown[2]).toContain("Client and summary");
    expect(screen.queryByRole("button", { name: "More results" })).toBeNull();
  });
});

describe("accessibility of the search results (axe-core in jsdom: structure and names, not contrast)", () => {
  it("has no violations with results shown", async () => {
    const { box } = searchBox([{ items: [hit({}), hit({ id: "m2", sender: "admin", author_id: "bob" })], next_after: "x" }]);
    fireEvent.change(box, { target: { value: "parcel" } });
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(2));
    const axe = (await import("axe-core")).default;
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.passes.map((p) => p.id)).toContain("aria-allowed-attr");
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`)).toEqual([]);
  });
});
