import { DefaultChatTransport, type UIMessage } from "ai";
import { authFetch, CHAT_ENDPOINT } from "./api";
import type { ScoutLocation, StoredMessage } from "./types";

export const CONFIG_TOOL_PART = "tool-update_scout_config";

/**
 * The useChat transport for one scout: our endpoint, our auth, and the extra
 * body fields the API wants (callers pass the current location per message).
 */
export function createChatTransport(scoutId: string) {
  return new DefaultChatTransport<UIMessage>({
    api: CHAT_ENDPOINT,
    fetch: authFetch as typeof fetch,
    body: { scoutId, location: null as ScoutLocation | null },
  });
}

/** Stored history (plain text rows) in the shape useChat keeps messages in. */
export function toUIMessages(rows: StoredMessage[]): UIMessage[] {
  return rows.map((m) => ({ id: m.id, role: m.role, parts: [{ type: "text", text: m.content }] }));
}

/**
 * useChat reports a failed request with the raw response body as the message;
 * pull out our API's human-readable message when it is there.
 */
export function chatErrorText(err: Error): string {
  try {
    const body = JSON.parse(err.message) as { error?: { message?: string } };
    if (body?.error?.message) return body.error.message;
  } catch {
    // not JSON
  }
  if (/failed to fetch|networkerror/i.test(err.message)) return "Cannot reach the server. Check your connection and try again.";
  return err.message || "The assistant could not answer. Try again.";
}
