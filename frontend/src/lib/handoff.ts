// Text carried across a navigation: the home prompt survives a detour through
// /login, and becomes the first chat message of the scout it created.
const PENDING_PROMPT = "openscouts.pendingPrompt";
const FIRST_MESSAGE = "openscouts.firstMessage.";

function store(): Storage | null {
  return typeof window === "undefined" ? null : window.sessionStorage;
}

export function savePendingPrompt(text: string): void {
  store()?.setItem(PENDING_PROMPT, text);
}

export function peekPendingPrompt(): string | null {
  return store()?.getItem(PENDING_PROMPT) ?? null;
}

export function clearPendingPrompt(): void {
  store()?.removeItem(PENDING_PROMPT);
}

export function saveFirstMessage(scoutId: string, text: string): void {
  store()?.setItem(FIRST_MESSAGE + scoutId, text);
}

/** Returns the message once; later calls get null so it is never sent twice. */
export function takeFirstMessage(scoutId: string): string | null {
  const s = store();
  if (!s) return null;
  const text = s.getItem(FIRST_MESSAGE + scoutId);
  if (text !== null) s.removeItem(FIRST_MESSAGE + scoutId);
  return text;
}

const FAILED_PROMPT = "openscouts.failedPrompt";

/**
 * A first message the assistant never answered: its blank scout was removed, and the home
 * page offers the text again with the reason, so no nameless scout is left behind.
 */
export function saveFailedPrompt(text: string, reason: string): void {
  store()?.setItem(FAILED_PROMPT, JSON.stringify({ text, reason }));
}

export function takeFailedPrompt(): { text: string; reason: string } | null {
  const s = store();
  const raw = s?.getItem(FAILED_PROMPT);
  if (!s || !raw) return null;
  s.removeItem(FAILED_PROMPT);
  try {
    const parsed = JSON.parse(raw) as { text?: unknown; reason?: unknown };
    return typeof parsed.text === "string" ? { text: parsed.text, reason: String(parsed.reason ?? "") } : null;
  } catch {
    return null;
  }
}
