/** One of the conversation panel's commands (assign, label, merge): run it,
 * then write the conversation's fresh row (read at the command's position)
 * into every cached list — the inbox socket's row follows to the others. */
import { useMutation } from "@tanstack/react-query";
import type { ApiError } from "../services/api";
import type { CommandResult } from "../types";
import { useApi } from "./useApi";
import { useRowWriter } from "./useConversations";

export function usePanelAction<T>(conversationId: string, run: (input: T) => Promise<CommandResult>) {
  const api = useApi();
  const writeRow = useRowWriter();
  return useMutation<CommandResult, ApiError, T>({
    mutationFn: async (input) => {
      const result = await run(input);
      writeRow(await api.getConversation(conversationId, result.position));
      return result;
    },
  });
}

/** A failed command in words, with the server's code. */
export function failure(error: ApiError | null): string | null {
  return error ? `${error.message} (${error.code})` : null;
}
