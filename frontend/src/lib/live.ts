// Live updates from GET /api/events (Server-Sent Events), read with fetch so the
// bearer token travels in the Authorization header, never in the URL.
//
// One connection per tab, shared by every component that subscribes. When the
// stream cannot be opened (old proxy, server without the endpoint, network)
// subscribers are told it is not live and keep polling as before.
import { useEffect, useRef, useSyncExternalStore } from "react";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { authFetch, getSession } from "./api";
import type { ExecutionSummary, Scout } from "./types";

export type LiveMessage =
  | { type: "execution"; data: ExecutionSummary }
  | { type: "scout"; data: Scout }
  // Changes were missed and cannot be replayed: reload what is on screen.
  | { type: "resync" };

type Handler = (message: LiveMessage) => void;
type StatusListener = (live: boolean) => void;

const handlers = new Set<Handler>();
const statusListeners = new Set<StatusListener>();
let live = false;
let controller: AbortController | null = null;
let stopTimer: number | null = null;
let lastEventId: string | null = null;

// Waits after a failed attempt; an ended stream (token expiry, deploy) reconnects at once.
const RETRY_MS = [2_000, 5_000, 10_000, 30_000];
// Keep the connection across page changes instead of reopening it.
const LINGER_MS = 5_000;

function watchStatus(onChange: () => void): () => void {
  const listener: StatusListener = () => onChange();
  statusListeners.add(listener);
  return () => {
    statusListeners.delete(listener);
  };
}

function setLive(value: boolean): void {
  if (live === value) return;
  live = value;
  statusListeners.forEach((fn) => fn(value));
}

function dispatch(event: string | undefined, data: string): void {
  if (event !== "execution" && event !== "scout" && event !== "resync") return;
  let message: LiveMessage;
  if (event === "resync") message = { type: "resync" };
  else {
    try {
      message = { type: event, data: JSON.parse(data) } as LiveMessage;
    } catch {
      return;
    }
  }
  handlers.forEach((fn) => fn(message));
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(t);
      resolve();
    });
  });
}

async function readOnce(signal: AbortSignal): Promise<boolean> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  // authFetch brings a fresh token (and refreshes once on a 401).
  const res = await authFetch("/api/events", { headers, signal, cache: "no-store" });
  const type = res.headers.get("Content-Type") ?? "";
  if (!res.ok || !res.body || !type.startsWith("text/event-stream")) {
    await res.body?.cancel().catch(() => undefined);
    return false;
  }
  setLive(true);
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return true;
    if (value.id) lastEventId = value.id;
    dispatch(value.event, value.data);
  }
}

async function run(signal: AbortSignal): Promise<void> {
  let failures = 0;
  while (!signal.aborted && getSession()) {
    let opened = false;
    try {
      opened = await readOnce(signal);
    } catch {
      opened = false;
    }
    setLive(false);
    if (signal.aborted) return;
    if (opened) {
      failures = 0;
      await pause(250, signal);
    } else {
      await pause(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)], signal);
      failures += 1;
    }
  }
}

function start(): void {
  if (stopTimer !== null) {
    window.clearTimeout(stopTimer);
    stopTimer = null;
  }
  if (controller) return;
  const own = new AbortController();
  controller = own;
  void run(own.signal).finally(() => {
    if (controller === own) controller = null;
  });
}

function stopSoon(): void {
  if (handlers.size || stopTimer !== null) return;
  stopTimer = window.setTimeout(() => {
    stopTimer = null;
    if (handlers.size) return;
    controller?.abort();
    controller = null;
    setLive(false);
  }, LINGER_MS);
}

/**
 * Whether the shared stream is open right now (without subscribing to it): a query
 * polls only while this is false.
 */
export function useLiveStatus(): boolean {
  return useSyncExternalStore(watchStatus, () => live, () => false);
}

/**
 * Calls `handler` for every live change of the signed-in user's scouts and runs.
 * Returns whether the stream is open right now: while it is not, keep polling.
 */
export function useLiveEvents(handler: Handler, enabled = true): boolean {
  const ref = useRef(handler);
  const isLive = useSyncExternalStore(watchStatus, () => live, () => false);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => {
    if (!enabled) return;
    const mine: Handler = (m) => ref.current(m);
    handlers.add(mine);
    start();
    return () => {
      handlers.delete(mine);
      stopSoon();
    };
  }, [enabled]);
  return enabled && isLive;
}
