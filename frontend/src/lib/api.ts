// The only module that knows API URLs and where the tokens live. Everything
// else calls the typed functions exported here.
import type {
  ExecutionDetail,
  ExecutionSummary,
  Finding,
  Place,
  Preferences,
  Scout,
  ScoutListItem,
  ScoutPatch,
  Session,
  StoredMessage,
  User,
} from "./types";

const SESSION_KEY = "openscouts.session";
const API = "/api";
// Refresh a little before expiry so a request does not race the clock.
const EXPIRY_SLACK_SECONDS = 30;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds: number | null;
  /** The input field the server blamed, for errors shown next to that field. */
  readonly field: string | null;

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfterSeconds: number | null = null,
    field: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.field = field;
  }
}

/** A message fit to show a person, whatever was thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong.";
}

// ---------------------------------------------------------------- session store

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let authLostHandler: (() => void) | null = null;

function hasStorage(): boolean {
  return typeof window !== "undefined" && typeof window.localStorage !== "undefined";
}

export function getSession(): Session | null {
  if (!hasStorage()) return null;
  const raw = window.localStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

function setSession(session: Session | null): void {
  if (!hasStorage()) return;
  if (session) window.localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else window.localStorage.removeItem(SESSION_KEY);
  listeners.forEach((fn) => fn(session));
}

export function onSessionChange(fn: Listener): () => void {
  listeners.add(fn);
  // Another tab signing in or out changes our storage too.
  const onStorage = (e: StorageEvent) => {
    if (e.key === SESSION_KEY) fn(getSession());
  };
  if (typeof window !== "undefined") window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(fn);
    if (typeof window !== "undefined") window.removeEventListener("storage", onStorage);
  };
}

/** Called when the session is gone for good (refresh failed); the app redirects to /login. */
export function setAuthLostHandler(fn: (() => void) | null): void {
  authLostHandler = fn;
}

// ---------------------------------------------------------------- low level

async function parseError(res: Response): Promise<ApiError> {
  const retryHeader = res.headers.get("Retry-After");
  let code = `http_${res.status}`;
  let message = res.statusText || `Request failed (${res.status})`;
  let retry: number | null = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  let field: string | null = null;
  try {
    const body = (await res.json()) as {
      error?: { code?: string; message?: string; retry_after_seconds?: number; field?: string };
    };
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      if (typeof body.error.retry_after_seconds === "number") retry = body.error.retry_after_seconds;
      if (typeof body.error.field === "string") field = body.error.field;
    }
  } catch {
    // Not JSON (a proxy error page, for instance); keep the status text.
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    if (code.startsWith("http_")) message = "The server is not reachable right now. Try again in a moment.";
  }
  return new ApiError(res.status, code, message, retry, field);
}

let refreshing: Promise<Session | null> | null = null;

/** Exchange the refresh token once; concurrent callers share the same attempt. */
export function refreshSession(): Promise<Session | null> {
  if (refreshing) return refreshing;
  const current = getSession();
  if (!current) return Promise.resolve(null);
  refreshing = (async () => {
    try {
      const res = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      if (!res.ok) {
        // Another tab may have rotated the token meanwhile; use its session.
        const latest = getSession();
        if (latest && latest.refresh_token !== current.refresh_token) return latest;
        if (res.status === 401 || res.status === 400 || res.status === 422) setSession(null);
        return null;
      }
      const session = (await res.json()) as Session;
      setSession(session);
      return session;
    } catch {
      return null;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function validAccessToken(): Promise<string | null> {
  const session = getSession();
  if (!session) return null;
  if (session.expires_at && session.expires_at - EXPIRY_SLACK_SECONDS < Date.now() / 1000) {
    const fresh = await refreshSession();
    return fresh?.access_token ?? null;
  }
  return session.access_token;
}

function authLost(): void {
  setSession(null);
  authLostHandler?.();
}

/**
 * fetch() with the bearer token; on a 401 refreshes once and retries, and if
 * that fails hands over to the auth-lost handler. Used for JSON calls and for
 * the chat stream alike.
 */
export async function authFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const send = (token: string | null) => {
    const headers = new Headers(init.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const token = await validAccessToken();
  const res = await send(token);
  if (res.status !== 401) return res;
  const fresh = await refreshSession();
  if (!fresh) {
    // Only give up on the session when the server rejected it; a refresh that
    // failed for a network hiccup leaves the user signed in.
    if (!getSession()) authLost();
    return res;
  }
  const retried = await send(fresh.access_token);
  if (retried.status === 401) authLost();
  return retried;
}

interface RequestOptions {
  body?: unknown;
  auth?: boolean;
  signal?: AbortSignal;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { method, signal: opts.signal, headers: {} };
  if (opts.body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(opts.body);
  }
  const url = `${API}${path}`;
  const res = opts.auth === false ? await fetch(url, init) : await authFetch(url, init);
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// ---------------------------------------------------------------- auth

async function startSession(path: string, email: string, password: string): Promise<User> {
  const session = await request<Session>("POST", path, { body: { email, password }, auth: false });
  setSession(session);
  return session.user;
}

export const auth = {
  signup: (email: string, password: string) => startSession("/auth/signup", email, password),
  login: (email: string, password: string) => startSession("/auth/login", email, password),
  async logout(): Promise<void> {
    const session = getSession();
    setSession(null);
    if (!session) return;
    try {
      await request<void>("POST", "/auth/logout", { body: { refresh_token: session.refresh_token }, auth: false });
    } catch {
      // Signing out locally is what matters; the token expires on its own.
    }
  },
  me: async (): Promise<User> => (await request<{ user: User }>("GET", "/auth/me")).user,
  refresh: refreshSession,
};

// ---------------------------------------------------------------- scouts

const enc = encodeURIComponent;

export const scouts = {
  list: async (): Promise<ScoutListItem[]> => (await request<{ scouts: ScoutListItem[] }>("GET", "/scouts")).scouts,
  create: async (fields: ScoutPatch = {}): Promise<Scout> =>
    (await request<{ scout: Scout }>("POST", "/scouts", { body: fields })).scout,
  get: async (id: string): Promise<Scout> => (await request<{ scout: Scout }>("GET", `/scouts/${enc(id)}`)).scout,
  update: async (id: string, patch: ScoutPatch): Promise<Scout> =>
    (await request<{ scout: Scout }>("PATCH", `/scouts/${enc(id)}`, { body: patch })).scout,
  remove: (id: string): Promise<void> => request<void>("DELETE", `/scouts/${enc(id)}`),
  messages: async (id: string): Promise<StoredMessage[]> =>
    (await request<{ messages: StoredMessage[] }>("GET", `/scouts/${enc(id)}/messages`)).messages,
  executions: (id: string, opts: { limit?: number; before?: string | null } = {}) => {
    const q = new URLSearchParams({ limit: String(opts.limit ?? 20) });
    if (opts.before) q.set("before", opts.before);
    return request<{ executions: ExecutionSummary[]; next_cursor: string | null }>(
      "GET",
      `/scouts/${enc(id)}/executions?${q.toString()}`,
    );
  },
  clearHistory: async (id: string): Promise<number> =>
    (await request<{ deleted: number }>("DELETE", `/scouts/${enc(id)}/executions`)).deleted,
  run: async (id: string): Promise<ExecutionSummary> =>
    (await request<{ execution: ExecutionSummary }>("POST", `/scouts/${enc(id)}/run`)).execution,
};

export const executions = {
  get: async (id: string): Promise<ExecutionDetail> =>
    (await request<{ execution: ExecutionDetail }>("GET", `/executions/${enc(id)}`)).execution,
  cancel: async (id: string): Promise<ExecutionSummary> =>
    (await request<{ execution: ExecutionSummary }>("POST", `/executions/${enc(id)}/cancel`)).execution,
  resume: async (id: string): Promise<ExecutionSummary> =>
    (await request<{ execution: ExecutionSummary }>("POST", `/executions/${enc(id)}/resume`)).execution,
};

export const preferences = {
  get: async (): Promise<Preferences> => (await request<{ preferences: Preferences }>("GET", "/preferences")).preferences,
  put: async (prefs: Preferences): Promise<Preferences> =>
    (await request<{ preferences: Preferences }>("PUT", "/preferences", { body: prefs })).preferences,
  testEmail: async (): Promise<string> => (await request<{ sent_to: string }>("POST", "/preferences/test-email")).sent_to,
};

export const findings = {
  search: async (q: string, opts: { limit?: number; scoutId?: string; signal?: AbortSignal } = {}): Promise<Finding[]> => {
    const params = new URLSearchParams({ q, limit: String(opts.limit ?? 20) });
    if (opts.scoutId) params.set("scout_id", opts.scoutId);
    return (await request<{ findings: Finding[] }>("GET", `/findings?${params.toString()}`, { signal: opts.signal })).findings;
  },
};

/** Where a search hit lives: its run, in its scout's report history. */
export function runHref(scoutId: string, executionId: string): string {
  return `/scout/${enc(scoutId)}?run=${enc(executionId)}#run-${enc(executionId)}`;
}
export const places = {
  search: async (q: string): Promise<Place[]> =>
    (await request<{ places: Place[] }>("GET", `/places?q=${enc(q)}`)).places,
  nearest: async (lat: number, lng: number): Promise<Place> => {
    const found = (await request<{ places: Place[] }>("GET", `/places?lat=${lat}&lng=${lng}`)).places;
    if (!found.length) throw new Error("No city found near you. Type your city instead.");
    return found[0];
  },
};

/** What the server tells the UI about itself (public). */
export const appConfig = (): Promise<{ demo_mode: boolean }> => request("GET", "/config", { auth: false });

/** Where useChat posts; paired with authFetch so the stream is authorised. */
export const CHAT_ENDPOINT = `${API}/chat`;
