/** Uploading a file for a conversation (`POST /api/attachments?conversation_id=`,
 * multipart, one part `file`; docs/ATTACHMENTS.md) with upload progress:
 * XMLHttpRequest, since fetch reports none. Refusals carry the server's code
 * (413 `payload_too_large`, 415 `unsupported_media_type`, …) as an ApiError. */
import { ApiError } from "./apiError";

/** The upload as the server answers it (201). */
export interface UploadedAttachment {
  attachment_id: string;
  conversation_id: string;
  name: string;
  mime_type: string;
  size: number;
  status: "checking" | "ready" | "rejected";
}

export interface UploadOptions {
  conversationId: string;
  file: File;
  token: string | null;
  /** Called with 0..1 as the bytes leave. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  baseUrl?: string;
  /** For tests: makes the request object. */
  createRequest?: () => XMLHttpRequest;
}

/** What a refusal means for the person who chose the file. */
export function uploadErrorText(error: ApiError): string {
  switch (error.code) {
    case "payload_too_large":
      return "File too large (the limit is 25 MB)";
    case "unsupported_media_type":
      return "This type of file is not accepted (images, PDF or plain text only)";
    case "corrupt_attachment":
      return "The file is empty or damaged";
    case "aborted":
      return "Upload cancelled";
    default:
      return error.message || "Upload failed";
  }
}

export function uploadAttachment(options: UploadOptions): Promise<UploadedAttachment> {
  const { conversationId, file, token, onProgress, signal } = options;
  const request = options.createRequest?.() ?? new XMLHttpRequest();
  const url = `${options.baseUrl ?? ""}/api/attachments?conversation_id=${encodeURIComponent(conversationId)}`;
  return new Promise((resolve, reject) => {
    request.open("POST", url);
    request.setRequestHeader("Accept", "application/json");
    if (token) request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress?.(event.loaded / event.total);
    };
    request.onerror = () => reject(new ApiError(0, "network_error", "cannot reach the server"));
    request.onabort = () => reject(new ApiError(0, "aborted", "upload cancelled"));
    request.onload = () => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(request.responseText || "{}") as Record<string, unknown>;
      } catch {
        data = {};
      }
      if (request.status >= 200 && request.status < 300) {
        onProgress?.(1);
        resolve(data as unknown as UploadedAttachment);
        return;
      }
      const code = typeof data.code === "string" ? data.code : `http_${request.status}`;
      const message = typeof data.message === "string" ? data.message : `HTTP ${request.status}`;
      reject(new ApiError(request.status, code, message));
    };
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    const body = new FormData();
    body.append("file", file, file.name);
    request.send(body);
  });
}
