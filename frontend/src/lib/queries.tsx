"use client";

// The one data layer: every page reads the API through these hooks, so caching,
// refetch on focus, polling and invalidation live in one place. A live-events
// hook only has to call queryClient.invalidateQueries with the keys below.
import {
  QueryClient,
  QueryClientProvider,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryKey,
} from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { ApiError, executions as executionsApi, onSessionChange, scouts as scoutsApi } from "./api";
import type { ExecutionStatus, Scout, ScoutListItem, ScoutPatch } from "./types";

export const queryKeys = {
  scouts: ["scouts"] as const,
  scout: (id: string) => ["scout", id] as const,
  messages: (id: string) => ["scout", id, "messages"] as const,
  executions: (id: string) => ["scout", id, "executions"] as const,
  execution: (id: string) => ["execution", id] as const,
  preferences: ["preferences"] as const,
};

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

export function useScouts(enabled: boolean) {
  return useQuery({
    queryKey: queryKeys.scouts,
    queryFn: scoutsApi.list,
    enabled,
    refetchInterval: 30_000,
  });
}

/** One run's detail (steps, actions); refetched when its status moves on, polled while running. */
export function useExecutionDetail(id: string, status: ExecutionStatus) {
  return useQuery({
    queryKey: [...queryKeys.execution(id), status] as QueryKey,
    queryFn: () => executionsApi.get(id),
    staleTime: status === "running" ? 2_000 : Infinity,
    refetchInterval: status === "running" ? 5_000 : false,
  });
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
