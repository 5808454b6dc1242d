/** Files attached in the composer: each uploads as soon as it is chosen
 * (picker, drop or paste), with its progress; images get a local preview.
 * Removing one cancels its upload. A refused one (too large, a type not
 * accepted) says why and is not sent. */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../services/apiError";
import { newId } from "../services/ids";
import { uploadAttachment, uploadErrorText, type UploadedAttachment } from "../services/upload";
import { useSession } from "./useApi";

export interface PendingUpload {
  key: string;
  name: string;
  size: number;
  isImage: boolean;
  /** A local object URL of an image, for the preview. */
  preview: string | null;
  /** 0..1 */
  progress: number;
  status: "uploading" | "done" | "error";
  error?: string;
  attachment?: UploadedAttachment;
}

export interface Uploads {
  items: PendingUpload[];
  add: (files: Iterable<File>) => void;
  remove: (key: string) => void;
  /** Forget the sent ones (their previews too). */
  clearDone: () => void;
  /** Add ones already uploaded (see restoredUpload). */
  restore: (items: PendingUpload[]) => void;
  uploading: boolean;
  ready: PendingUpload[];
}

const isImage = (file: File) => file.type.startsWith("image/");

export function useUploads(conversationId: string): Uploads {
  const session = useSession();
  const [items, setItems] = useState<PendingUpload[]>([]);
  const aborts = useRef(new Map<string, AbortController>());
  const previews = useRef(new Set<string>());

  const update = useCallback((key: string, change: Partial<PendingUpload>) => {
    setItems((list) => list.map((item) => (item.key === key ? { ...item, ...change } : item)));
  }, []);

  const add = useCallback(
    (files: Iterable<File>) => {
      for (const file of files) {
        const key = newId("u-");
        const preview = isImage(file) && typeof URL.createObjectURL === "function" ? URL.createObjectURL(file) : null;
        if (preview) previews.current.add(preview);
        const abort = new AbortController();
        aborts.current.set(key, abort);
        const item: PendingUpload = { key, name: file.name || "pasted image", size: file.size, isImage: isImage(file), preview, progress: 0, status: "uploading" };
        setItems((list) => [...list, item]);
        uploadAttachment({
          conversationId,
          file,
          token: session.getToken?.() ?? session.token,
          signal: abort.signal,
          onProgress: (progress) => update(key, { progress }),
        }).then(
          (attachment) => update(key, { status: "done", progress: 1, attachment, name: attachment.name }),
          (error: unknown) => {
            if (error instanceof ApiError && error.code === "aborted") return;
            const text = error instanceof ApiError ? uploadErrorText(error) : String(error);
            update(key, { status: "error", error: text });
          },
        ).finally(() => aborts.current.delete(key));
      }
    },
    [conversationId, session, update],
  );

  const drop = (item: PendingUpload) => {
    aborts.current.get(item.key)?.abort();
    if (item.preview) {
      URL.revokeObjectURL?.(item.preview);
      previews.current.delete(item.preview);
    }
  };

  const remove = useCallback((key: string) => {
    setItems((list) => {
      const item = list.find((i) => i.key === key);
      if (item) drop(item);
      return list.filter((i) => i.key !== key);
    });
  }, []);

  const clearDone = useCallback(() => {
    setItems((list) => {
      list.filter((i) => i.status === "done").forEach(drop);
      return list.filter((i) => i.status !== "done");
    });
  }, []);

  // Leaving the conversation: cancel what is still uploading, free the previews.
  useEffect(
    () => () => {
      for (const abort of aborts.current.values()) abort.abort();
      for (const url of previews.current) URL.revokeObjectURL?.(url);
    },
    [],
  );

  const restore = useCallback((back: PendingUpload[]) => {
    setItems((list) => [...list, ...back.filter((b) => !list.some((i) => i.key === b.key))]);
  }, []);

  return {
    items,
    add,
    remove,
    clearDone,
    restore,
    uploading: items.some((i) => i.status === "uploading"),
    ready: items.filter((i) => i.status === "done"),
  };
}

/** Put back uploads whose messages were not sent (the stale-action guard's "Review"). */
export function restoredUpload(attachment: { attachment_id: string; name: string; mime_type: string; size: number; isImage: boolean }, conversationId: string): PendingUpload {
  return {
    key: `r-${attachment.attachment_id}`,
    name: attachment.name,
    size: attachment.size,
    isImage: attachment.isImage,
    preview: null,
    progress: 1,
    status: "done",
    attachment: { ...attachment, conversation_id: conversationId, status: "ready" },
  };
}
