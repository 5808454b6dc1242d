/** A conversation's private notes: read from the staff timeline from `from` on
 * (the position of the oldest message on screen, or 0: read with the status
 * entries, see useStatusEntries), new ones from the
 * socket's NOTE_ADDED frames, and `add` (`POST …/notes`: the note is shown
 * at once, the frame that follows is the same note). Staff only: a client
 * never gets a note, whatever the client shows. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { Note } from "../services/composer";
import type { ParleySocket } from "../services/socket";
import { useApi, useSession } from "./useApi";
import { notesKey } from "./useStatusEntries";

const NONE: Note[] = [];

/** A timeline item of kind `note` (or a NOTE_ADDED frame: its time is `at`) as a note. */
export function noteFromItem(item: Record<string, unknown>, conversationId: string): Note {
  return {
    note_id: String(item.note_id ?? `at-${String(item.position)}`),
    conversation_id: conversationId,
    author_id: String(item.author_id ?? ""),
    author_name: typeof item.author_name === "string" ? item.author_name : null,
    content: String(item.content ?? ""),
    mentions: Array.isArray(item.mentions) ? item.mentions.map(String) : [],
    position: Number(item.position ?? 0),
    created_at: String(item.created_at ?? item.at ?? new Date().toISOString()),
  };
}

/** A NOTE_ADDED frame (docs/PROTOCOL.md) of this conversation as a note, or null for any other frame. */
export function noteFromFrame(frame: { type: string } & Record<string, unknown>, conversationId: string): Note | null {
  if (frame.type !== "NOTE_ADDED" || frame.conversation_id !== conversationId) return null;
  return noteFromItem(frame, conversationId);
}

export function useNotes(conversationId: string, socket: ParleySocket | null, from: number | null) {
  const api = useApi();
  const { identity } = useSession();
  const client = useQueryClient();
  const [live, setLive] = useState<Note[]>([]);
  const keep = useCallback((note: Note) => setLive((list) => (list.some((n) => n.note_id === note.note_id) ? list : [...list, note])), []);

  useEffect(() => {
    if (!socket) return undefined;
    return socket.onFrame((frame) => {
      const note = noteFromFrame(frame as unknown as { type: string } & Record<string, unknown>, conversationId);
      if (note) keep(note);
    });
  }, [socket, conversationId, keep]);

  // Read with the status entries (useStatusEntries: one read of the timeline gives both).
  const query = useQuery({
    queryKey: notesKey(conversationId, from),
    queryFn: () => client.getQueryData<Note[]>(notesKey(conversationId, from)) ?? NONE,
    enabled: false,
    staleTime: Number.POSITIVE_INFINITY,
  });

  const add = useMutation({
    mutationFn: ({ content, mentions }: { content: string; mentions: string[] }) => api.addNote(conversationId, content, mentions),
    onSuccess: (result, { content }) =>
      keep({
        note_id: result.note_id,
        conversation_id: conversationId,
        author_id: identity.sub,
        author_name: null,
        content,
        mentions: result.mentions,
        position: result.position,
        created_at: new Date().toISOString(),
      }),
  });

  const fetched = query.data ?? NONE;
  const notes = useMemo(() => {
    const read = fetched.map((n) => noteFromItem(n as unknown as Record<string, unknown>, conversationId));
    const known = new Set(read.map((n) => n.note_id));
    return [...read, ...live.filter((n) => !known.has(n.note_id))].sort((a, b) => a.position - b.position);
  }, [fetched, live, conversationId]);
  return { notes, add };
}
