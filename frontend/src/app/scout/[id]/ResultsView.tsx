"use client";

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, errorMessage, executions as executionsApi, scouts as scoutsApi } from "@/lib/api";
import { formatDuration } from "@/lib/format";
import { queryKeys, useSecondsUntil } from "@/lib/queries";
import type { ExecutionAction, ExecutionSummary, Scout } from "@/lib/types";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { ErrorAlert, Loading } from "@/components/Feedback";
import { ExecutionCard, foundNothing } from "./ExecutionCard";
import { linkedRunId, useRunAnchor } from "./useRunAnchor";

const POLL_BUSY_MS = 5_000;
const POLL_IDLE_MS = 30_000;
const PAGE = 20;

interface Props {
  scout: Scout;
  /** The live stream is open: its events patch the runs (useLiveQueries), so no polling. */
  live: boolean;
  /** Refetch the scout (last run time, failures, active flag change with runs). */
  onScoutStale(): void;
}

// The run moved on between the page's last look and the click: say so in words.
const RUN_ACTION_ERRORS: Record<string, string> = {
  not_running: "This run had already finished.",
  not_resumable: "A finished run cannot be resumed. Use Run now for a new one.",
  run_in_progress: "The scout is busy with a run right now. Try again when it is done.",
  conflict: "The run changed meanwhile. The page now shows where it stands.",
};

function dedupe(list: ExecutionSummary[]): ExecutionSummary[] {
  const seen = new Set<string>();
  return list.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}

export function ResultsView({ scout, live, onScoutStale }: Props) {
  const scoutId = scout.id;
  const qc = useQueryClient();
  const [runError, setRunError] = useState<string | null>(null);
  const [showEmpty, setShowEmpty] = useState(false);
  const wasInFlight = useRef(false);

  const runs = useInfiniteQuery({
    queryKey: queryKeys.executions(scoutId),
    queryFn: ({ pageParam }) => scoutsApi.executions(scoutId, { limit: PAGE, before: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    // Polling is the fallback while the live stream is down; hidden tabs do not poll.
    refetchInterval: (q) =>
      live ? false : q.state.data?.pages[0]?.executions.some((e) => e.status === "running") ? POLL_BUSY_MS : POLL_IDLE_MS,
  });

  const list = runs.data ? dedupe(runs.data.pages.flatMap((p) => p.executions)) : null;
  const inFlight = list?.some((e) => e.status === "running") ?? false;

  // When a run finishes the scout's last-run time and failure count change.
  useEffect(() => {
    if (wasInFlight.current && !inFlight) onScoutStale();
    wasInFlight.current = inFlight;
  }, [inFlight, onScoutStale]);

  const refresh = useCallback(async () => {
    await qc.invalidateQueries({ queryKey: queryKeys.executions(scoutId) });
  }, [qc, scoutId]);

  const runNow = useMutation({
    mutationFn: () => scoutsApi.run(scoutId),
    onMutate: () => setRunError(null),
    onSuccess: () => {
      void refresh();
      onScoutStale();
    },
    onError: (err) => {
      // A cooldown the page did not know about (another tab): the scout says when.
      if (err instanceof ApiError && err.code === "cooldown") onScoutStale();
      else setRunError(errorMessage(err));
      if (err instanceof ApiError && err.code === "run_in_progress") void refresh();
    },
  });

  const cooldown = useSecondsUntil(scout.run_now_available_at);
  const [confirmClear, setConfirmClear] = useState(false);
  const clear = useMutation({
    mutationFn: () => scoutsApi.clearHistory(scoutId),
    onMutate: () => setRunError(null),
    onSuccess: () => {
      qc.removeQueries({ queryKey: ["execution"] });
      void refresh();
      onScoutStale();
    },
    onError: (err) => {
      setRunError(
        err instanceof ApiError && err.code === "run_in_progress"
          ? "A run is in progress. Cancel it or wait for it to finish, then clear the history."
          : errorMessage(err),
      );
    },
    onSettled: () => setConfirmClear(false),
  });

  const onAction = useCallback(
    async (id: string, action: ExecutionAction) => {
      setRunError(null);
      try {
        if (action === "cancel") await executionsApi.cancel(id);
        else await executionsApi.resume(id);
      } catch (err) {
        setRunError(RUN_ACTION_ERRORS[err instanceof ApiError ? err.code : ""] ?? errorMessage(err));
      }
      await qc.invalidateQueries({ queryKey: queryKeys.execution(id) });
      await refresh();
    },
    [qc, refresh],
  );

  // A run named in the address (a search result) is shown even when it found nothing.
  const [linked] = useState(linkedRunId);
  const visible =
    list?.filter((e, i) => showEmpty || i === 0 || e.status === "running" || e.id === linked || !foundNothing(e)) ?? null;
  const hidden = list && visible ? list.length - visible.length : 0;
  const { fetchNextPage } = runs;
  const loadMore = useCallback(async () => {
    await fetchNextPage();
  }, [fetchNextPage]);
  useRunAnchor(visible?.map((e) => e.id) ?? null, runs.hasNextPage ? loadMore : null, runs.isFetchingNextPage);

  return (
    <section aria-labelledby="results-title">
      <div className="results-head">
        <div>
          <h2 id="results-title" style={{ margin: 0 }}>
            Reports
          </h2>
          <p className="small muted" style={{ margin: 0 }}>
            {inFlight ? "A run is in progress. This page updates by itself." : "Newest first."}
          </p>
        </div>
        <div className="row">
          {cooldown > 0 && !inFlight && (
            <span className="small muted" role="status" data-testid="cooldown">
              Run now is available again in {formatDuration(cooldown)}
            </span>
          )}
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => runNow.mutate()}
            disabled={runNow.isPending || inFlight || cooldown > 0 || !scout.is_complete}
            data-testid="run-now"
          >
            {runNow.isPending ? <span className="spinner" aria-hidden="true" /> : null}
            {inFlight ? "Running…" : "Run now"}
          </button>
        </div>
      </div>
      <ErrorAlert message={runError} />
      <ErrorAlert message={runs.error ? errorMessage(runs.error) : null} />
      {list && list.length > 0 && (
        <label className="inline-check small">
          <input type="checkbox" checked={showEmpty} onChange={(e) => setShowEmpty(e.target.checked)} data-testid="show-empty-runs" />
          Show runs that found nothing{hidden > 0 ? ` (${hidden} hidden)` : ""}
        </label>
      )}
      {visible === null ? (
        runs.error ? null : <Loading label="Loading reports…" />
      ) : visible.length === 0 ? (
        <div className="card empty" data-testid="executions-empty">
          <h2>No reports yet</h2>
          <p>
            {scout.is_active
              ? "The scout runs on its schedule. Use Run now to get a first report right away."
              : "Switch the scout on to run it on a schedule, or use Run now."}
          </p>
        </div>
      ) : (
        <>
          <ul className="exec-list" data-testid="execution-list">
            {visible.map((e) => (
              <ExecutionCard key={e.id} execution={e} onAction={onAction} />
            ))}
          </ul>
          <div className="row" style={{ justifyContent: "space-between", marginTop: "1rem" }}>
            <button type="button" className="btn btn-small btn-danger" onClick={() => setConfirmClear(true)} disabled={inFlight} data-testid="clear-history">
              Clear history
            </button>
          </div>
          {runs.hasNextPage && (
            <div className="row" style={{ justifyContent: "center", marginTop: "1rem" }}>
              <button type="button" className="btn" onClick={() => runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
                {runs.isFetchingNextPage ? "Loading…" : "Show older reports"}
              </button>
            </div>
          )}
        </>
      )}
      <ConfirmDialog
        open={confirmClear}
        title="Clear this scout's history?"
        body="Every finished report of this scout is deleted. The scout and its setup stay. This cannot be undone."
        confirmLabel="Clear history"
        busy={clear.isPending}
        onConfirm={() => clear.mutate()}
        onCancel={() => setConfirmClear(false)}
      />
    </section>
  );
}
