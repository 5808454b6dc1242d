/** The composer's suggestions, pure: an `@name` being typed (mentions, as the
 * server reads them: commands/notes.py), a `/code` at the start (canned
 * responses), and what inserting one makes of the text. */
import type { Agent } from "../types";

/** What may not be part of an `@name` (the server's pattern). */
const STOP = /[\s@,;:!?()[\]{}<>"']/;
const MENTION = /(^|[^\w@])(@[^\s@,;:!?()[\]{}<>"']+)/g;
const CODE = /^[A-Za-z0-9_-]{0,50}$/;

/** The `@name` ending at the caret: where its `@` is and what follows it. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  let start = caret;
  while (start > 0 && !STOP.test(text.charAt(start - 1))) start--;
  const at = start - 1;
  if (at < 0 || text.charAt(at) !== "@") return null;
  const before = at > 0 ? text.charAt(at - 1) : "";
  if (before && (/\w/.test(before) || before === "@")) return null;
  return { start: at, query: text.slice(start, caret) };
}

/** The canned-response code being typed: the whole text is `/code`. */
export function cannedAt(text: string): string | null {
  if (!text.startsWith("/")) return null;
  const code = text.slice(1);
  return CODE.test(code) ? code : null;
}

/** How an agent is written in a note: their display name without spaces when
 * the server can read it back, else their id. */
export function mentionToken(agent: Pick<Agent, "agent_id" | "display_name">): string {
  const name = agent.display_name.split(/\s+/).join("");
  return name && !STOP.test(name) ? name : agent.agent_id;
}

/** Agents whose name or id contains `query` (any case), names starting with it first. */
export function matchAgents(agents: Agent[], query: string, limit = 8): Agent[] {
  const q = query.toLowerCase();
  const score = (a: Agent) => {
    const name = a.display_name.toLowerCase();
    const id = a.agent_id.toLowerCase();
    if (name.startsWith(q) || id.startsWith(q) || mentionToken(a).toLowerCase().startsWith(q)) return 0;
    return name.includes(q) || id.includes(q) ? 1 : 2;
  };
  return agents
    .map((agent) => ({ agent, rank: score(agent) }))
    .filter((x) => x.rank < 2)
    .sort((a, b) => a.rank - b.rank || a.agent.display_name.localeCompare(b.agent.display_name))
    .slice(0, limit)
    .map((x) => x.agent);
}

/** Replace `text[start, caret)` with `insert` (and a space); the new caret. */
export function replaceRange(text: string, start: number, caret: number, insert: string): { text: string; caret: number } {
  const after = text.slice(caret);
  const glue = after.startsWith(" ") ? "" : " ";
  const next = `${text.slice(0, start)}${insert}${glue}${after}`;
  return { text: next, caret: start + insert.length + 1 };
}

/** The ids, of those inserted (id → token), still written `@token` in `text`. */
export function mentionedIds(text: string, inserted: ReadonlyMap<string, string>): string[] {
  const written = new Set(mentionsIn(text).map((m) => m.slice(1).toLowerCase()));
  return [...inserted].filter(([, token]) => written.has(token.toLowerCase())).map(([id]) => id);
}

/** Every `@name` of `text`, in order. */
export function mentionsIn(text: string): string[] {
  return [...text.matchAll(MENTION)].map((m) => (m[2] ?? "").replace(/\.+$/, ""));
}

/** `text` cut into plain parts and `@name` parts (for highlighting, as text). */
export function splitMentions(text: string): { text: string; mention: boolean }[] {
  const parts: { text: string; mention: boolean }[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    const token = (match[2] ?? "").replace(/\.+$/, "");
    const start = (match.index ?? 0) + (match[1] ?? "").length;
    if (start > last) parts.push({ text: text.slice(last, start), mention: false });
    parts.push({ text: token, mention: true });
    last = start + token.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), mention: false });
  return parts;
}
