/** `GET /api/search`'s hits (docs/QUERIES.md, "Search") and their snippets.
 *
 * A snippet is HTML: the server escapes the text and marks each match with
 * `<mark>…</mark>`. It is never put into the page as HTML here: it is split
 * into text runs, marked or not, and the entities decoded, so React renders
 * plain text nodes whatever the snippet holds. */

export interface SearchHit {
  kind: "conversation" | "message" | "note";
  id: string;
  conversation_id: string;
  rank: number;
  snippet: string;
  position: number;
  created_at: string;
  seq?: number | null;
  sender?: "admin" | "client" | "system" | null;
  author_id?: string | null;
  client_id: string;
  client_name: string;
  status: string;
  merged_into?: string | null;
}

export interface SearchPage {
  items: SearchHit[];
  next_after: string | null;
}

export interface SnippetPart {
  text: string;
  marked: boolean;
}

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** `&amp;`, `&#x27;`, `&#39;`… back to characters; an unknown entity stays as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

/** A snippet as runs of text, each marked (a match) or not. Only `<mark>` and
 * `</mark>` mean anything; any other markup is shown as the text it is. */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let marked = false;
  for (const piece of snippet.split(/(<mark>|<\/mark>)/i)) {
    const tag = piece.toLowerCase();
    if (tag === "<mark>") marked = true;
    else if (tag === "</mark>") marked = false;
    else if (piece) {
      const text = decodeEntities(piece);
      const last = parts[parts.length - 1];
      if (last && last.marked === marked) last.text += text;
      else parts.push({ text, marked });
    }
  }
  return parts;
}
