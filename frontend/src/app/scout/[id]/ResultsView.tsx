"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, errorMessage, executions as executionsApi, scouts as scoutsApi } from "@/lib/api";
import { formatDuration } from "@/lib/format";
import { useLiveEvents } from "@/lib/live";
import type { ExecutionAction, ExecutionDetail, ExecutionSummary, Scout } from "@/lib/types";
import { ErrorAlert, Loading } from "@/components/Feedback";
import { ExecutionCard } from "./ExecutionCard";
import { useRunAnchor } from "./useRunAnchor";

const POLL_BUSY_MS = 5_000;
const POLL_IDLE_MS = 30_000;

interface Props {
  scout: Scout;
  /** Refetch the scout (last run time, failures, active flag change with runs). */
  onScoutStale(): void;
}

function dedupe(list: ExecutionSummary[]): ExecutionSummary[] {
  const seen = new Set<string>();
  return list.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}

export function ResultsView({ scout, onScoutStale }: Props) {
  const scoutId = scout.id;
  const [head, setHead] = useState<ExecutionSummary[] | null>(null);
  const [headCursor, setHeadCursor] = useState<string | null>(null);
  const [older, setOlder] = useState<ExecutionSummary[]>([]);
  const [olderCursor, setOlderCursor] = useState<string | null>(null);
  const [details, setDetails] = useState<Record<string, ExecutionDetail>>({});
  const [error, setError] = useState<string | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const [cooldownUntil, setCooldownUntil] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const detailsRef = useRef(details);
  const expanded = useRef(new Set<string>());
  const wasInFlight = useRef(false);

  useEffect(() => {
    detailsRef.current = details;
  }, [details]);

  const loadDetails = useCallback(async (ids: string[]) => {
    const unique = [...new Set(ids)];
    if (!unique.length) return;
    const got = await Promise.allSettled(unique.map((id) => executionsApi.get(id)));
    setDetails((prev) => {
      const next = { ...prev };
      got.forEach((r) => {
        if (r.status === "fulfilled") next[r.value.id] = r.value;
      });
      return next;
    });
  }, []);

  const poll = useCallback(async () => {
    try {
      const page = await scoutsApi.executions(scoutId, { limit: 20 });
      setHead(page.executions);
      setHeadCursor(page.next_cursor);
      setError(null);
      // Details carry the step timeline and the allowed actions: keep them
      // fresh for runs in flight, the newest run, and any the user opened
      // whose status has moved on.
      const known = detailsRef.current;
      const want = page.executions
        .filter(
          (e, i) =>
            e.status === "running" ||
            i === 0 ||
            (expanded.current.has(e.id) && known[e.id]?.status !== e.status),
        )
        .map((e) => e.id);
      await loadDetails(want);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [scoutId, loadDetails]);

  const inFlight = head?.some((e) => e.status === "running") ?? false;

  // Each live change of this scout's runs reloads them; polling only while the stream is down.
  const live = useLiveEvents((m) => {
    if (m.type === "resync" || (m.type === "execution" && m.data.scout_id === scoutId)) void poll();
  });

  useEffect(() => {
    // Also when the stream (re)opens: nothing that changed before it is missed.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    void poll();
  }, [poll, live]);

  useEffect(() => {
    if (live) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState !== "hidden") void poll();
    }, inFlight ? POLL_BUSY_MS : POLL_IDLE_MS);
    return () => window.clearInterval(timer);
  }, [inFlight, poll, live]);

  // When a run finishes the scout's last-run time and failure count change.
  useEffect(() => {
    if (wasInFlight.current && !inFlight) onScoutStale();
    wasInFlight.current = inFlight;
  }, [inFlight, onScoutStale]);

  const coolingDown = cooldownUntil !== null && cooldownUntil > now;
  useEffect(() => {
    if (!coolingDown) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [coolingDown]);

  async function runNow() {
    setRunError(null);
    setStarting(true);
    try {
      const ex = await scoutsApi.run(scoutId);
      setHead((prev) => dedupe([ex, ...(prev ?? [])]));
      await poll();
    } catch (err) {
      if (err instanceof ApiError && err.code === "cooldown" && err.retryAfterSeconds) {
        const t = Date.now();
        setNow(t);
        setCooldownUntil(t + err.retryAfterSeconds * 1000);
      } else {
        setRunError(errorMessage(err));
        if (err instanceof ApiError && err.code === "run_in_progress") await poll();
      }
    } finally {
      setStarting(false);
    }
  }

  async function loadMore() {
    const cursor = older.length ? olderCursor : headCursor;
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await scoutsApi.executions(scoutId, { limit: 20, before: cursor });
      setOlder((prev) => [...prev, ...page.executions]);
      setOlderCursor(page.next_cursor);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoadingMore(false);
    }
  }

  const onNeedDetail = useCallback(
    (id: string) => {
      expanded.current.add(id);
      if (!detailsRef.current[id]) void loadDetails([id]);
    },
    [loadDetails],
  );

  const onAction = useCallback(
    async (id: string, action: ExecutionAction) => {
      setRunError(null);
      try {
        if (action === "cancel") await executionsApi.cancel(id);
        else await executionsApi.resume(id);
      } catch (err) {
        setRunError(errorMessage(err));
      }
      await loadDetails([id]);
      await poll();
    },
    [loadDetails, poll],
  );

  const list = head ? dedupe([...head, ...older]) : null;
  const moreCursor = older.length ? olderCursor : headCursor;
  useRunAnchor(list?.map((e) => e.id) ?? null, moreCursor ? loadMore : null, loadingMore);

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
          {coolingDown && (
            <span className="small muted" role="status" data-testid="cooldown">
              Run now is available again in {formatDuration((cooldownUntil! - now) / 1000)}
            </span>
          )}
          <button
            type="button"
            className="btn btn-primary"
            onClick={runNow}
            disabled={starting || inFlight || coolingDown || !scout.is_complete}
            data-testid="run-now"
          >
            {starting ? <span className="spinner" aria-hidden="true" /> : null}
            {inFlight ? "Running…" : "Run now"}
          </button>
        </div>
      </div>
      <ErrorAlert message={runError} />
      <ErrorAlert message={error} />
      {list === null ? (
        error ? null : <Loading label="Loading reports…" />
      ) : list.length === 0 ? (
        <div className="card empty" data-testid="executions-empty">
          <h2>No reports yet</h2>
          <p>
            {scout.is_active
              ? "The scout runs on its schedule. Use Run now to get a first report right away."
              : "Activate the scout to run it on a schedule, or use Run now."}
          </p>
        </div>
      ) : (
        <>
          <ul className="exec-list" data-testid="execution-list">
            {list.map((e) => (
              <ExecutionCard key={e.id} execution={e} detail={details[e.id]} onNeedDetail={onNeedDetail} onAction={onAction} />
            ))}
          </ul>
          {moreCursor && (
            <div className="row" style={{ justifyContent: "center", marginTop: "1rem" }}>
              <button type="button" className="btn" onClick={loadMore} disabled={loadingMore}>
                {loadingMore ? "Loading…" : "Show older reports"}
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}
