/** A message's attachment in the timeline. An upload (`attachment_id`): an
 * image as its thumbnail, a button that opens the lightbox; a file as a
 * download button (a signed URL asked for on click). A broken image says so
 * in words (its name, "image unavailable"), not by its alt text alone. An
 * attachment given by URL (before uploads) is shown as before. */
import { useState, type ReactNode } from "react";
import { useApi } from "../hooks/useApi";
import { useAttachmentInfo, useAttachmentUrl } from "../hooks/useAttachmentUrl";
import { safeUrl } from "../lib/format";
import type { ApiError } from "../services/apiError";
import type { Attachment, MessageType } from "../types";
import { fileSize } from "./AttachmentPreviews";
import { Lightbox } from "./Lightbox";
import { BrokenImageIcon, PaperclipIcon } from "./Icons";

function Unavailable({ name }: { name: string }) {
  return (
    <p data-testid="image-unavailable" className="mb-1 flex items-center gap-2 rounded border border-dashed border-current px-3 py-2 text-sm">
      <BrokenImageIcon />
      <span className="[overflow-wrap:anywhere]">
        {name} — image unavailable
      </span>
    </p>
  );
}

/** The thumbnail, a button that opens the lightbox; broken: said in words. */
interface ThumbProps {
  name: string;
  src: string | null;
  lightbox: (close: () => void) => ReactNode;
  onBroken: () => void;
  onOpen?: () => void;
}

function Thumb({ name, src, lightbox, onBroken, onOpen }: ThumbProps) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        onClick={() => {
          onOpen?.();
          setOpen(true);
        }}
        aria-label={`Open image ${name}`}
        data-testid="attachment-image"
        className="mb-1 block max-w-full overflow-hidden rounded"
      >
        {src ? (
          <img src={src} alt={name} loading="lazy" className="max-h-48 max-w-full rounded" onError={onBroken} />
        ) : (
          <span className="block h-24 w-32 animate-pulse rounded bg-slate-200" aria-hidden="true" />
        )}
      </button>
      {open && lightbox(() => setOpen(false))}
    </>
  );
}

/** An uploaded image: its thumbnail once the image checker made it, else the image itself. */
function UploadedImage({ id, name }: { id: string; name: string }) {
  const info = useAttachmentInfo(id);
  const [noThumb, setNoThumb] = useState(false);
  const [broken, setBroken] = useState(false);
  const [opened, setOpened] = useState(false);
  const known = info.isSuccess || info.isError;
  const thumbnail = Boolean(info.data?.thumbnail) && !noThumb;
  const small = useAttachmentUrl(id, "thumbnail", thumbnail);
  const content = useAttachmentUrl(id, "content", (known && !thumbnail) || opened);
  const signed = thumbnail ? small : content;
  if (broken || info.data?.status === "rejected" || (!thumbnail && content.isError)) return <Unavailable name={name} />;
  return (
    <Thumb
      name={name}
      src={safeUrl(signed.data?.url)}
      onBroken={() => (thumbnail ? setNoThumb(true) : setBroken(true))}
      onOpen={() => setOpened(true)}
      lightbox={(close) => <Lightbox name={name} url={content.data?.url} failed={content.isError} onClose={close} />}
    />
  );
}

/** An image given by URL (before uploads). */
function LinkedImage({ url, name }: { url: string; name: string }) {
  const [broken, setBroken] = useState(false);
  if (broken) return <Unavailable name={name} />;
  return <Thumb name={name} src={url} onBroken={() => setBroken(true)} lightbox={(close) => <Lightbox name={name} url={url} onClose={close} />} />;
}

function FileDownload({ attachment, name }: { attachment: Attachment; name: string }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const id = attachment.attachment_id;
  const size = typeof attachment.size === "number" ? ` (${fileSize(attachment.size)})` : "";
  const download = async () => {
    if (!id) return;
    setError(null);
    try {
      const { url } = await api.attachmentUrl(id, "content");
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      link.rel = "noopener";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (e) {
      const code = (e as ApiError).code;
      setError(code === "attachment_gone" ? "This file was removed" : `Cannot download: ${(e as Error).message}`);
    }
  };
  return (
    <div className="mb-1">
      <button type="button" onClick={() => void download()} className="block text-left underline [overflow-wrap:anywhere]" data-testid="attachment-file">
        <PaperclipIcon /> Download {name}
        {size}
      </button>
      {error && (
        <p role="alert" className="text-xs font-semibold">
          {error}
        </p>
      )}
    </div>
  );
}

export function AttachmentView({ attachment, type }: { attachment: Attachment | null; type: MessageType }) {
  if (!attachment) return null;
  const legacy = safeUrl(attachment.url);
  if (!attachment.attachment_id && !legacy) return null;
  const name = attachment.name ?? legacy?.split("/").pop() ?? "file";
  if (type === "image") {
    return attachment.attachment_id ? <UploadedImage id={attachment.attachment_id} name={name} /> : <LinkedImage url={legacy ?? ""} name={name} />;
  }
  if (attachment.attachment_id) return <FileDownload attachment={attachment} name={name} />;
  return (
    <a href={legacy ?? undefined} target="_blank" rel="noopener noreferrer" className="mb-1 block underline" download={name}>
      <PaperclipIcon /> {name}
    </a>
  );
}
