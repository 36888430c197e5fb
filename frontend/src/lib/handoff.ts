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
