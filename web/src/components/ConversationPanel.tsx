/** The conversation's side panel: who handles it (AssignControl), its labels
 * (LabelsControl), merging it into another conversation of the client
 * (MergeDialog), and the client with their other conversations
 * (ContactPanel). Beside the chat on a wide screen; in a sheet on a narrow
 * one (ConversationSheet). Live: the inbox socket's rows refresh it. */
import { useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useApi } from "../hooks/useApi";
import { clientConversationsKey, useClientConversations } from "../hooks/useClientConversations";
import { useConversation } from "../hooks/useConversations";
import { failure, usePanelAction } from "../hooks/usePanelAction";
import type { Conversation } from "../types";
import { AssignControl } from "./AssignControl";
import { ContactPanel } from "./ContactPanel";
import { Dialog } from "./Dialog";
import { LabelsControl } from "./LabelsControl";
import { MergeDialog } from "./MergeDialog";

interface Props {
  conversationId: string;
  onOpen: (id: string) => void;
}

function PanelBody({ conversation, onOpen }: { conversation: Conversation; onOpen: (id: string) => void }) {
  const api = useApi();
  const client = useQueryClient();
  const id = conversation.conversation_id;
  const list = useClientConversations(conversation.client_id);
  const [merging, setMerging] = useState(false);
  const merge = usePanelAction(id, (into: string) => api.merge(id, into));
  const others = list.data?.items.filter((row) => row.conversation_id !== id && !row.deleted);
  const targets = others?.filter((row) => row.status !== "closed" && !row.merged_into) ?? [];
  const merged = Boolean(conversation.merged_into);

  return (
    <div className="space-y-5">
      <AssignControl conversation={conversation} />
      <LabelsControl conversation={conversation} />
      <section className="space-y-1">
        <button
          type="button"
          aria-haspopup="dialog"
          disabled={merged || conversation.deleted}
          onClick={() => {
            merge.reset();
            setMerging(true);
          }}
          className="rounded border border-slate-300 bg-white px-2 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50"
        >
          Merge into another conversation…
        </button>
        {merged && conversation.merged_into && (
          <p className="text-xs text-slate-700">
            Merged into{" "}
            <a
              href={`#/c/${conversation.merged_into}`}
              className="text-blue-800 underline"
              onClick={(e) => {
                e.preventDefault();
                onOpen(conversation.merged_into ?? "");
              }}
            >
              another conversation
            </a>
            .
          </p>
        )}
      </section>
      <ContactPanel
        conversation={conversation}
        others={others}
        loading={list.isPending}
        error={list.error ? list.error.message : null}
        onOpen={onOpen}
      />
      {merging && (
        // Its keys stay its own: Escape or Tab must not reach a sheet around it.
        <div onKeyDown={(e) => e.stopPropagation()}>
          <MergeDialog
            source={conversation}
            targets={targets}
            busy={merge.isPending}
            error={failure(merge.error)}
            onCancel={() => setMerging(false)}
            onConfirm={(into) =>
              merge.mutate(into, {
                onSuccess: () => {
                  setMerging(false);
                  void client.invalidateQueries({ queryKey: clientConversationsKey(conversation.client_id) });
                  onOpen(into);
                },
              })
            }
          />
        </div>
      )}
    </div>
  );
}

/** Beside the chat (wide screens). */
export function ConversationPanel({ conversationId, onOpen }: Props) {
  const conversation = useConversation(conversationId);
  return (
    <aside
      aria-label="Conversation details"
      data-testid="conversation-panel"
      className="w-72 shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-4 xl:w-80"
    >
      {conversation.data ? <PanelBody conversation={conversation.data} onOpen={onOpen} /> : null}
    </aside>
  );
}

/** The panel in a sheet (narrow screens), opened from the chat header. */
export function ConversationSheet({ conversationId, onOpen, onClose }: Props & { onClose: () => void }) {
  const conversation = useConversation(conversationId);
  const done = useRef<HTMLButtonElement>(null);
  return (
    <Dialog title="Conversation details" onCancel={onClose} initialFocus={done}>
      <div data-testid="conversation-panel">
        {conversation.data ? (
          <PanelBody
            conversation={conversation.data}
            onOpen={(id) => {
              onClose();
              onOpen(id);
            }}
          />
        ) : null}
      </div>
      <div className="mt-4 flex justify-end">
        <button ref={done} type="button" onClick={onClose} className="rounded bg-slate-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-800">
          Done
        </button>
      </div>
    </Dialog>
  );
}
