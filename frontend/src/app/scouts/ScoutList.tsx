"use client";

import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, errorMessage, scouts as scoutsApi } from "@/lib/api";
import { useRequireUser } from "@/lib/auth";
import { frequencyLabel, relativeTime, scoutTitle } from "@/lib/format";
import { useLiveEvents, type LiveMessage } from "@/lib/live";
import type { ScoutListItem } from "@/lib/types";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { ErrorAlert, Loading } from "@/components/Feedback";
import { StatusBadge } from "@/components/StatusBadge";
import { FindingsSearch } from "./FindingsSearch";

export function ScoutList() {
  const user = useRequireUser();
  const [items, setItems] = useState<ScoutListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [toDelete, setToDelete] = useState<ScoutListItem | null>(null);

  const load = useCallback(async () => {
    try {
      setItems(await scoutsApi.list());
    } catch (err) {
      setError(errorMessage(err));
    }
  }, []);

  // Live changes patch the list in place; polling is the fallback when the stream is down.
  const itemsRef = useRef(items);
  useEffect(() => {
    itemsRef.current = items;
  }, [items]);
  const live = useLiveEvents((m: LiveMessage) => {
    if (m.type === "resync" || (m.type === "scout" && !itemsRef.current?.some((x) => x.id === m.data.id))) {
      void load();
    } else if (m.type === "scout") {
      setItems((prev) => prev?.map((x) => (x.id === m.data.id ? { ...x, ...m.data } : x)) ?? null);
    } else {
      const run = m.data;
      setItems(
        (prev) =>
          prev?.map((x) =>
            x.id === run.scout_id && (!x.latest_execution || x.latest_execution.id === run.id || (run.started_at ?? "") >= (x.latest_execution.started_at ?? ""))
              ? { ...x, latest_execution: run }
              : x,
          ) ?? null,
      );
    }
  }, Boolean(user));

  useEffect(() => {
    if (!user) return;
    // Also when the stream (re)opens: nothing that changed before it is missed.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    void load();
  }, [user, load, live]);

  useEffect(() => {
    if (!user || live) return;
    const timer = window.setInterval(load, 30_000);
    return () => window.clearInterval(timer);
  }, [user, load, live]);

  async function toggle(s: ScoutListItem) {
    setError(null);
    setPending(s.id);
    try {
      const updated = await scoutsApi.update(s.id, { is_active: !s.is_active });
      setItems((prev) => prev?.map((x) => (x.id === s.id ? { ...x, ...updated } : x)) ?? null);
    } catch (err) {
      if (err instanceof ApiError && err.code === "scout_incomplete") {
        setError(`"${scoutTitle(s)}" is not fully set up yet. Open it and finish the chat first.`);
      } else setError(errorMessage(err));
    } finally {
      setPending(null);
    }
  }

  async function confirmDelete() {
    if (!toDelete) return;
    const target = toDelete;
    setPending(target.id);
    try {
      await scoutsApi.remove(target.id);
      setItems((prev) => prev?.filter((x) => x.id !== target.id) ?? null);
      setToDelete(null);
    } catch (err) {
      setError(errorMessage(err));
      setToDelete(null);
    } finally {
      setPending(null);
    }
  }

  if (!user || (items === null && !error)) return <Loading label="Loading scouts…" />;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>My scouts</h1>
          <p>Each scout watches the web for one thing and reports what is new.</p>
        </div>
        <Link href="/" className="btn btn-primary">
          New scout
        </Link>
      </div>
      <ErrorAlert message={error} />
      {items && items.length > 0 && <FindingsSearch />}
      {items && items.length === 0 ? (
        <div className="card empty" data-testid="scouts-empty">
          <h2>No scouts yet</h2>
          <p>Tell a scout what to look for and it will start watching.</p>
          <Link href="/" className="btn btn-primary">
            Create your first scout
          </Link>
        </div>
      ) : (
        <ul className="scout-list" data-testid="scout-list">
          {items?.map((s) => (
            <li key={s.id} className="card scout-item" data-testid="scout-item">
              <div>
                <h2>
                  <Link href={`/scout/${s.id}`}>{scoutTitle(s)}</Link>
                </h2>
                <div className="scout-meta">
                  <span>{frequencyLabel(s.frequency)}</span>
                  {!s.is_complete && <span className="badge">Setup not finished</span>}
                  <span>Last run {relativeTime(s.last_run_at)}</span>
                  {s.latest_execution && <StatusBadge status={s.latest_execution.status} />}
                </div>
              </div>
              <div className="scout-actions">
                <label className="switch">
                  <input
                    type="checkbox"
                    role="switch"
                    checked={s.is_active}
                    disabled={pending === s.id}
                    onChange={() => toggle(s)}
                    aria-label={`Active: ${scoutTitle(s)}`}
                    data-testid="scout-active-toggle"
                  />
                  <span className="small">{s.is_active ? "Active" : "Paused"}</span>
                </label>
                <button
                  type="button"
                  className="btn btn-small btn-danger"
                  onClick={() => setToDelete(s)}
                  aria-label={`Delete ${scoutTitle(s)}`}
                  data-testid="scout-delete"
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog
        open={toDelete !== null}
        title="Delete this scout?"
        body={toDelete ? `"${scoutTitle(toDelete)}" and all of its reports will be removed. This cannot be undone.` : ""}
        confirmLabel="Delete scout"
        busy={pending !== null}
        onConfirm={confirmDelete}
        onCancel={() => setToDelete(null)}
      />
    </>
  );
}
