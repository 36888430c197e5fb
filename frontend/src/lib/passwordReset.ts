// Forgotten passwords: ask for an emailed link, then set a new password with its token.
// Neither call needs a session, so they live apart from the signed-in API client.
import { ApiError } from "./api";

async function post(path: string, body: unknown): Promise<Response> {
  const res = await fetch(`/api/auth/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.ok) return res;
  let code = `http_${res.status}`;
  let message = "Something went wrong. Try again in a moment.";
  const retryHeader = res.headers.get("Retry-After");
  try {
    const parsed = (await res.json()) as { error?: { code?: string; message?: string } };
    code = parsed.error?.code ?? code;
    message = parsed.error?.message ?? message;
  } catch {
    // Not JSON (a proxy error page): keep the generic message.
  }
  throw new ApiError(res.status, code, message, retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null);
}

export async function requestPasswordReset(email: string): Promise<string> {
  const res = await post("password-reset", { email });
  const body = (await res.json()) as { message?: string };
  return body.message ?? "If an account uses this email, a link is on its way.";
}

export async function confirmPasswordReset(token: string, password: string): Promise<void> {
  await post("password-reset/confirm", { token, password });
}

/** The token travels in the URL fragment (#token=…), which browsers never send to a server. */
export function tokenFromLocation(): string | null {
  if (typeof window === "undefined") return null;
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  return params.get("token");
}
