"use client";

// The one data layer: every page reads the API through these hooks, so caching,
// refetch on focus, polling and invalidation live in one place. Live events
// (GET /api/events, lib/live.ts) only patch or invalidate these queries by their
// keys (useLiveQueries); polling is the fallback while the stream is down.
import {
  QueryClient,
  QueryClientProvider,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryKey,
} from "@tanstack/react-query";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, appConfig, executions as executionsApi, onSessionChange, scouts as scoutsApi } from "./api";
import { useLiveEvents, useLiveStatus, type LiveMessage } from "./live";
import type { ExecutionStatus, ExecutionSummary, Scout, ScoutListItem, ScoutPatch } from "./types";

export const queryKeys = {
  scouts: ["scouts"] as const,
  scout: (id: string) => ["scout", id] as const,
  messages: (id: string) => ["scout", id, "messages"] as const,
  executions: (id: string) => ["scout", id, "executions"] as const,
  execution: (id: string) => ["execution", id] as const,
  preferences: ["preferences"] as const,
  config: ["config"] as const,
};

/** Whether the server runs on the demo services (GET /api/config); asked once per tab. */
export function useDemoMode(): boolean {
  const { data } = useQuery({ queryKey: queryKeys.config, queryFn: appConfig, staleTime: Infinity, retry: false });
  return !!data?.demo_mode;
}

/** A caller's mistake (4xx) will not fix itself: do not retry it. */
function shouldRetry(failures: number, err: unknown): boolean {
  if (err instanceof ApiError && err.status >= 400 && err.status < 500) return false;
  return failures < 2;
}

export function QueryProvider({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: shouldRetry, staleTime: 2_000, refetchOnWindowFocus: true },
          mutations: { retry: false },
        },
      }),
  );
  // Another account must never see the previous one's cached scouts.
  useEffect(() => onSessionChange((s) => (s ? undefined : client.clear())), [client]);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

export function useScout(id: string, enabled: boolean) {
  return useQuery({ queryKey: queryKeys.scout(id), queryFn: () => scoutsApi.get(id), enabled });
}

/** The list polls only while the live stream is down (`live` from useLiveQueries). */
export function useScouts(enabled: boolean, live = false) {
  return useQuery({
    queryKey: queryKeys.scouts,
    queryFn: scoutsApi.list,
    enabled,
    refetchInterval: live ? false : 30_000,
  });
}

/**
 * One run's detail (steps, actions); refetched when its status moves on and on each
 * live event of the run, polled while running only when the stream is down.
 */
export function useExecutionDetail(id: string, status: ExecutionStatus) {
  const live = useLiveStatus();
  return useQuery({
    queryKey: [...queryKeys.execution(id), status] as QueryKey,
    queryFn: () => executionsApi.get(id),
    staleTime: status === "running" ? 2_000 : Infinity,
    refetchInterval: status === "running" && !live ? 5_000 : false,
  });
}

export interface ExecutionPage {
  executions: ExecutionSummary[];
  next_cursor: string | null;
}

/** Everything cached except a chat history: the chat owns it once loaded. */
function notMessages(q: { queryKey: QueryKey }): boolean {
  return q.queryKey[2] !== "messages";
}

/** The newer of two summaries of a scout's latest run. */
function newerRun(current: ExecutionSummary | null, run: ExecutionSummary): boolean {
  return !current || current.id === run.id || (run.started_at ?? "") >= (current.started_at ?? "");
}

/** One live change applied to the cache: patched in place where it can be, else refetched. */
export function applyLiveMessage(qc: QueryClient, m: LiveMessage): void {
  if (m.type === "resync") {
    void qc.invalidateQueries({ predicate: notMessages });
    return;
  }
  if (m.type === "scout") {
    const scout = m.data;
    if (qc.getQueryData(queryKeys.scout(scout.id)) !== undefined) qc.setQueryData(queryKeys.scout(scout.id), scout);
    const list = qc.getQueryData<ScoutListItem[]>(queryKeys.scouts);
    if (list?.some((x) => x.id === scout.id)) {
      qc.setQueryData<ScoutListItem[]>(queryKeys.scouts, list.map((x) => (x.id === scout.id ? { ...x, ...scout } : x)));
    } else if (list) {
      // A scout this tab has not seen (created elsewhere): its place in the list is the server's to say.
      void qc.invalidateQueries({ queryKey: queryKeys.scouts });
    }
    // Its history may have been cleared elsewhere.
    void qc.invalidateQueries({ queryKey: queryKeys.executions(scout.id) });
    return;
  }
  const run = m.data;
  qc.setQueryData<ScoutListItem[]>(queryKeys.scouts, (list) =>
    list?.map((x) => (x.id === run.scout_id && newerRun(x.latest_execution, run) ? { ...x, latest_execution: run } : x)),
  );
  const key = queryKeys.executions(run.scout_id);
  const pages = qc.getQueryData<InfiniteData<ExecutionPage>>(key);
  if (pages?.pages.some((p) => p.executions.some((e) => e.id === run.id))) {
    qc.setQueryData<InfiniteData<ExecutionPage>>(key, {
      ...pages,
      pages: pages.pages.map((p) => ({ ...p, executions: p.executions.map((e) => (e.id === run.id ? run : e)) })),
    });
  } else if (pages) {
    void qc.invalidateQueries({ queryKey: key }); // a new run: the first page gains it
  }
  // Its steps moved on: the open card reloads its detail (every status variant of the key).
  void qc.invalidateQueries({ queryKey: queryKeys.execution(run.id) });
}

/**
 * Subscribes the page to live events, which patch or invalidate the queries above.
 * Returns whether the stream is open: queries poll only while it is not. When the
 * stream (re)opens, what is on screen is reloaded once, so nothing changed before is missed.
 */
export function useLiveQueries(enabled: boolean): boolean {
  const qc = useQueryClient();
  const live = useLiveEvents((m) => applyLiveMessage(qc, m), enabled);
  const wasLive = useRef(live);
  useEffect(() => {
    if (live && !wasLive.current) void qc.invalidateQueries({ predicate: notMessages });
    wasLive.current = live;
  }, [live, qc]);
  return live;
}

/** PATCH a scout; the page and the list both see the saved version at once. */
export function useUpdateScout(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (patch: ScoutPatch) => scoutsApi.update(id, patch),
    onSuccess: (scout: Scout, patch) => {
      qc.setQueryData(queryKeys.scout(id), scout);
      qc.setQueryData<ScoutListItem[]>(queryKeys.scouts, (list) =>
        list?.map((s) => (s.id === id ? { ...s, ...scout } : s)),
      );
      void qc.invalidateQueries({ queryKey: queryKeys.scouts });
      // Switching a scout on can start its first run.
      if (patch.is_active) void qc.invalidateQueries({ queryKey: queryKeys.executions(id) });
    },
  });
}

/** Seconds until a moment, ticking once a second while it is in the future. */
export function useSecondsUntil(iso: string | null | undefined): number {
  const target = iso ? new Date(iso).getTime() : NaN;
  const [now, setNow] = useState(() => Date.now());
  const pending = Number.isFinite(target) && target > now;
  useEffect(() => {
    if (!pending) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [pending]);
  return pending ? Math.ceil((target - now) / 1000) : 0;
}
