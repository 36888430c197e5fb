"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { ApiError, errorMessage, scouts as scoutsApi } from "@/lib/api";
import { useRequireUser } from "@/lib/auth";
import { frequencyLabel, relativeTime, scoutTitle } from "@/lib/format";
import { queryKeys, useLiveQueries, useScouts } from "@/lib/queries";
import type { ScoutListItem } from "@/lib/types";
import { ActiveSwitch } from "@/components/ActiveSwitch";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { ErrorAlert, Loading } from "@/components/Feedback";
import { StatusBadge } from "@/components/StatusBadge";
import { FindingsSearch } from "./FindingsSearch";

export function ScoutList() {
  const user = useRequireUser();
  const qc = useQueryClient();
  // Live scout and run events patch the list in place; it polls only while the stream is down.
  const live = useLiveQueries(!!user);
  const scoutsQuery = useScouts(!!user, live);
  const [error, setError] = useState<string | null>(null);
  const [toDelete, setToDelete] = useState<ScoutListItem | null>(null);

  const toggle = useMutation({
    mutationFn: (s: ScoutListItem) => scoutsApi.update(s.id, { is_active: !s.is_active }),
    onMutate: () => setError(null),
    onSuccess: (updated) => {
      qc.setQueryData<ScoutListItem[]>(queryKeys.scouts, (prev) => prev?.map((x) => (x.id === updated.id ? { ...x, ...updated } : x)));
      qc.setQueryData(queryKeys.scout(updated.id), updated);
      void qc.invalidateQueries({ queryKey: queryKeys.scouts });
    },
    onError: (err, s) => {
      if (err instanceof ApiError && err.code === "scout_incomplete") {
        setError(`"${scoutTitle(s)}" is not fully set up yet. Open it and finish the setup first.`);
      } else setError(errorMessage(err));
    },
  });

  const remove = useMutation({
    mutationFn: (s: ScoutListItem) => scoutsApi.remove(s.id),
    onSuccess: (_v, s) => {
      qc.setQueryData<ScoutListItem[]>(queryKeys.scouts, (prev) => prev?.filter((x) => x.id !== s.id));
      qc.removeQueries({ queryKey: queryKeys.scout(s.id) });
    },
    onError: (err) => setError(errorMessage(err)),
    onSettled: () => setToDelete(null),
  });

  const items = scoutsQuery.data ?? null;
  const loadError = scoutsQuery.error ? errorMessage(scoutsQuery.error) : null;
  if (!user || (items === null && !loadError)) return <Loading label="Loading scouts…" />;
  const pending = toggle.isPending ? toggle.variables?.id : remove.isPending ? remove.variables?.id : null;

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
      <ErrorAlert message={error ?? loadError} />
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
                  <span>Last run {relativeTime(s.last_run_at)}</span>
                  {s.latest_execution && <StatusBadge status={s.latest_execution.status} />}
                </div>
              </div>
              <div className="scout-actions">
                <ActiveSwitch
                  scout={s}
                  busy={pending === s.id || (!s.is_active && !s.is_complete)}
                  onChange={() => toggle.mutate(s)}
                  label={`Active: ${scoutTitle(s)}`}
                />
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
        busy={remove.isPending}
        onConfirm={() => toDelete && remove.mutate(toDelete)}
        onCancel={() => setToDelete(null)}
      />
    </>
  );
}
