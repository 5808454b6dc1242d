/** A typed client for every Parley read and command endpoint (docs/COMMANDS.md,
 * docs/QUERIES.md). Errors carry the server's stable `code`; idempotent calls
 * (queries, and commands carrying a command_id / client_message_id) are retried
 * with back-off when the network fails or the server answers 5xx. */
import { ApiError, queryString, type ApiOptions, type Query, type RefreshedSession } from "./apiError";
import { backoffDelay, sleep } from "./backoff";
import type { AttachmentInfo, CannedResponse, NoteResult } from "./composer";
import { newId } from "./ids";
import type { Availability, DirectoryResult, NotificationPage } from "./desk";
import type { SearchPage } from "./search";
import type {
  Agent,
  CommandResult,
  Conversation,
  ConversationFilters,
  ConversationPage,
  Label,
  MessagePage,
  Priority,
  SendMessageInput,
  StartConversationInput,
  SettableStatus,
  Team,
  TimelinePage,
} from "../types";

export { ApiError, type ApiOptions, type RefreshedSession } from "./apiError";

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly retries: number;
  private readonly backoff: { base: number; max: number; random?: () => number };

  constructor(private readonly options: ApiOptions) {
    this.baseUrl = options.baseUrl ?? "";
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.retries = options.retries ?? 3;
    this.backoff = options.backoff ?? { base: 300, max: 3000 };
  }

  // -- queries -----------------------------------------------------------------------

  listConversations(
    filters: ConversationFilters = {},
    page: { cursor?: string | null; limit?: number; minPosition?: number; includeTotal?: boolean } = {},
  ): Promise<ConversationPage> {
    return this.get("/api/conversations", {
      status: filters.status,
      priority: filters.priority,
      q: filters.q?.trim(),
      assignee: filters.assignee,
      team: filters.team,
      label: filters.label,
      channel: filters.channel,
      sort: filters.sort,
      cursor: page.cursor,
      limit: page.limit,
      min_position: page.minPosition,
      include_total: page.includeTotal,
    });
  }

  getConversation(id: string, minPosition?: number): Promise<Conversation> {
    return this.get(`/api/conversations/${encodeURIComponent(id)}`, { min_position: minPosition });
  }

  listMessages(
    conversationId: string,
    page: { before?: number | null; limit?: number; minPosition?: number } = {},
  ): Promise<MessagePage> {
    return this.get("/api/messages", {
      conversation_id: conversationId,
      before: page.before,
      limit: page.limit,
      min_position: page.minPosition,
    });
  }

  /** The staff directory: every agent's display name and availability. */
  listAgents(): Promise<{ items: Agent[] }> {
    return this.get("/api/agents", {});
  }

  /** The teams (for the inbox's team filter). */
  listTeams(): Promise<{ items: Team[] }> {
    return this.get("/api/teams", {});
  }

  /** The label catalogue (for the inbox's label filter). */
  listLabels(): Promise<{ items: Label[] }> {
    return this.get("/api/labels", {});
  }

  /** The staff timeline after the global position `after`: messages, notes and system entries in log order. */
  timeline(
    conversationId: string,
    page: { after?: number; limit?: number; minPosition?: number } = {},
  ): Promise<TimelinePage> {
    return this.get(`/api/conversations/${encodeURIComponent(conversationId)}/timeline`, {
      after: page.after,
      limit: page.limit,
      min_position: page.minPosition,
    });
  }

  // -- commands (each carries a command_id, so a retry is never a second command) --------

  startConversation(input: StartConversationInput): Promise<CommandResult> {
    return this.command("POST", "/api/conversations", { ...input, command_id: input.command_id ?? newId() });
  }

  updateConversation(
    id: string,
    changes: { priority?: Priority; summary?: string | null },
  ): Promise<CommandResult> {
    return this.command("PUT", `/api/conversations/${encodeURIComponent(id)}`, {
      ...changes,
      command_id: newId(),
    });
  }

  changeStatus(id: string, status: SettableStatus, reason?: string): Promise<CommandResult> {
    return this.command("PATCH", `/api/conversations/${encodeURIComponent(id)}/status`, {
      status,
      reason,
      command_id: newId(),
    });
  }

  /** Set the conversation aside until `until` (RFC 3339 with an offset); it wakes then
   * or at the client's next message. */
  snooze(id: string, until: string): Promise<CommandResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/snooze`, {
      until,
      command_id: newId(),
    });
  }

  deleteConversation(id: string): Promise<CommandResult> {
    return this.command(
      "DELETE",
      `/api/conversations/${encodeURIComponent(id)}${queryString({ command_id: newId() })}`,
    );
  }

  markConversationRead(id: string, upToSeq?: number): Promise<CommandResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/mark-read`, {
      up_to_seq: upToSeq,
      command_id: newId(),
    });
  }

  markMessagesRead(conversationId: string, upToSeq?: number): Promise<CommandResult> {
    return this.command("PATCH", "/api/messages/mark-read", {
      conversation_id: conversationId,
      up_to_seq: upToSeq,
      command_id: newId(),
    });
  }

  sendMessage(input: SendMessageInput): Promise<CommandResult> {
    return this.command("POST", "/api/messages", {
      ...input,
      client_message_id: input.client_message_id ?? newId("m-"),
    });
  }

  /** Messages, notes, client names and ids, summaries matching `q`, best first. */
  search(q: string, page: { after?: string | null; limit?: number } = {}): Promise<SearchPage> {
    return this.get("/api/search", { q: q.trim(), after: page.after, limit: page.limit });
  }

  // -- the conversation panel and the top bar (assignment, labels, merge, availability, mentions) --

  /** `{agent_id}`: that agent (the team kept); `{team_id}`: the team's queue; `{}`: nobody. */
  assign(id: string, to: { agent_id?: string; team_id?: string }): Promise<CommandResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/assignment`, { ...to, command_id: newId() });
  }

  addLabel(id: string, labelId: string): Promise<CommandResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/labels`, { label_id: labelId, command_id: newId() });
  }

  removeLabel(id: string, labelId: string): Promise<CommandResult> {
    return this.command("DELETE", `/api/conversations/${encodeURIComponent(id)}/labels/${encodeURIComponent(labelId)}${queryString({ command_id: newId() })}`);
  }

  /** Merge `id` (closed for good) into `into`, a conversation of the same client. */
  merge(id: string, into: string): Promise<CommandResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/merge`, { into, command_id: newId() });
  }

  /** A client's conversations (the contact panel), newest last message first. */
  clientConversations(clientId: string, limit = 50): Promise<ConversationPage> {
    return this.get("/api/conversations", { client_id: clientId, limit });
  }

  /** The caller's own availability (registers them in the directory on first use). */
  setAvailability(availability: Availability): Promise<DirectoryResult> {
    return this.command("PUT", "/api/agents/me/availability", { availability });
  }

  /** The caller's mention notifications, newest first, with the unread count. */
  listNotifications(page: { limit?: number; before?: number | null; minPosition?: number } = {}): Promise<NotificationPage> {
    return this.get("/api/notifications", { limit: page.limit, before: page.before, min_position: page.minPosition });
  }

  /** Mark read the caller's notifications up to a note's position, or those of `noteIds`. */
  readNotifications(which: { upToPosition: number } | { noteIds: string[] }): Promise<DirectoryResult> {
    const body = "upToPosition" in which ? { up_to_position: which.upToPosition } : { note_ids: which.noteIds };
    return this.command("POST", "/api/notifications/read", body);
  }

  // -- the composer: notes, canned responses, attachments (docs/COMMANDS.md, docs/ATTACHMENTS.md) --
  /** A private note (never shown to the client); `mentions`: agent ids to notify besides its `@name`s. */
  addNote(id: string, content: string, mentions: string[] = []): Promise<NoteResult> {
    return this.command("POST", `/api/conversations/${encodeURIComponent(id)}/notes`, { content, mentions, command_id: newId() });
  }
  /** The canned responses the caller may use whose code starts with `prefix`. */
  cannedResponses(prefix: string, limit = 20): Promise<{ items: CannedResponse[]; next_after: string | null }> {
    return this.get("/api/canned-responses", { prefix, limit });
  }
  /** An upload: its name, type, size, `status` (checking, ready, rejected) and whether it has a `thumbnail`. */
  attachment(id: string): Promise<AttachmentInfo> {
    return this.get(`/api/attachments/${encodeURIComponent(id)}`, {});
  }
  /** A short-lived signed URL of an upload (or of its thumbnail). */
  attachmentUrl(id: string, variant: "content" | "thumbnail" = "content"): Promise<{ url: string; expires_at: string }> {
    return this.get(`/api/attachments/${encodeURIComponent(id)}/url`, { variant });
  }

  // -- the session -----------------------------------------------------------------------

  /** A new token for the current one, same caller, later expiry. A refusal
   * (401: expired, or the session is over) does not sign out by itself: the
   * current token is good until it expires. */
  refreshSession(): Promise<RefreshedSession> {
    return this.request("POST", "/api/session/refresh", undefined, true);
  }

  // -- transport -----------------------------------------------------------------------

  private get<T>(path: string, query: Query): Promise<T> {
    return this.request<T>("GET", path + queryString(query));
  }

  private command<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  /** Every call here is idempotent (queries, or commands with an idempotency key),
   * so network failures and 5xx answers are retried. */
  private async request<T>(method: string, path: string, body?: unknown, quiet = false): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, quiet);
      } catch (error) {
        if (!(error instanceof ApiError) || !error.retryable || attempt >= this.retries) throw error;
        await sleep(backoffDelay(attempt, this.backoff));
      }
    }
  }

  private async once<T>(method: string, path: string, body: unknown, quiet: boolean): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = this.options.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, "network_error", `cannot reach the server: ${String(error)}`);
    }
    const text = await response.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const problem = (data ?? {}) as { code?: string; message?: string; detail?: string; field?: string };
      const error = new ApiError(
        response.status,
        problem.code ?? `http_${response.status}`,
        problem.message ?? problem.detail ?? (response.statusText || `HTTP ${response.status}`),
        problem.field,
      );
      if (error.code === "unauthenticated" && !quiet) this.options.onUnauthenticated?.();
      throw error;
    }
    return data as T;
  }
}
