/** A signed URL of an upload (`GET /api/attachments/{id}/url`, valid 5
 * minutes): fetched when shown, fetched again before it expires; and the
 * upload's description (whether the image checker made a thumbnail yet:
 * until then the image itself is shown). */
import { useQuery } from "@tanstack/react-query";
import { useApi } from "./useApi";

const FRESH_MS = 4 * 60_000;

export function useAttachmentUrl(id: string | null | undefined, variant: "content" | "thumbnail", enabled = true) {
  const api = useApi();
  return useQuery({
    queryKey: ["attachment-url", id, variant],
    queryFn: () => api.attachmentUrl(id ?? "", variant),
    enabled: Boolean(id) && enabled,
    staleTime: FRESH_MS,
    refetchInterval: FRESH_MS,
    retry: false,
  });
}

export function useAttachmentInfo(id: string) {
  const api = useApi();
  return useQuery({ queryKey: ["attachment", id], queryFn: () => api.attachment(id), staleTime: FRESH_MS, retry: false });
}
