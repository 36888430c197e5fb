"use client";

import type { UIMessage } from "ai";
import { useCallback, useEffect, useState } from "react";
import { ApiError, errorMessage, preferences as prefsApi, scouts as scoutsApi } from "@/lib/api";
import { useRequireUser } from "@/lib/auth";
import { toUIMessages } from "@/lib/chat";
import { scoutTitle } from "@/lib/format";
import { useLiveEvents } from "@/lib/live";
import type { Scout, ScoutLocation } from "@/lib/types";
import { ErrorAlert, Loading, NotFoundPanel } from "@/components/Feedback";
import { ChatPanel } from "./ChatPanel";
import { Checklist } from "./Checklist";
import { ResultsView } from "./ResultsView";
import { addressNamesRun } from "./useRunAnchor";

type Tab = "configure" | "results";

export function ScoutPage({ id }: { id: string }) {
  const user = useRequireUser();
  const [scout, setScout] = useState<Scout | null>(null);
  const [history, setHistory] = useState<UIMessage[] | null>(null);
  const [location, setLocation] = useState<ScoutLocation | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab | null>(null);
  const [toggling, setToggling] = useState(false);

  useEffect(() => {
    if (!user) return;
    let cancelled = false;
    (async () => {
      try {
        const [s, msgs] = await Promise.all([scoutsApi.get(id), scoutsApi.messages(id)]);
        if (cancelled) return;
        setScout(s);
        setHistory(toUIMessages(msgs));
        setTab(s.is_active || addressNamesRun() ? "results" : "configure");
      } catch (err) {
        if (cancelled) return;
        // A malformed id is as unknown as a missing one.
        if (err instanceof ApiError && (err.status === 404 || err.code === "not_found" || err.status === 422)) setNotFound(true);
        else setError(errorMessage(err));
      }
      // The assistant may use the saved location when the user says "near me".
      try {
        const p = await prefsApi.get();
        if (!cancelled && p.location?.city) {
          setLocation({ city: p.location.city, latitude: p.location.latitude ?? null, longitude: p.location.longitude ?? null });
        }
      } catch {
        // Optional: the chat works without it.
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id, user]);

  // Edits from another tab, activation, auto-disable and last-run times arrive live.
  useLiveEvents((m) => {
    if (m.type === "scout" && m.data.id === id) setScout(m.data);
  }, Boolean(user));

  const refreshScout = useCallback(async () => {
    try {
      setScout(await scoutsApi.get(id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setNotFound(true);
    }
  }, [id]);

  async function setActive(active: boolean) {
    setActionError(null);
    setToggling(true);
    try {
      const s = await scoutsApi.update(id, { is_active: active });
      setScout(s);
      if (active) setTab("results");
    } catch (err) {
      if (err instanceof ApiError && err.code === "scout_incomplete") {
        setActionError("The setup is not finished yet. Keep chatting until every item is ticked.");
        void refreshScout();
      } else setActionError(errorMessage(err));
    } finally {
      setToggling(false);
    }
  }

  if (notFound) return <NotFoundPanel what="Scout" />;
  if (error && !scout) return <ErrorAlert message={error} />;
  if (!user || !scout || !history || !tab) return <Loading label="Loading scout…" />;

  return (
    <>
      <div className="page-head">
        <div>
          <h1 data-testid="scout-title">{scoutTitle(scout)}</h1>
          <div className="row small">
            {scout.is_active ? (
              <span className="badge badge-active" data-testid="scout-state">
                Active
              </span>
            ) : (
              <span className="badge" data-testid="scout-state">
                {scout.is_complete ? "Ready to activate" : "Setting up"}
              </span>
            )}
            {scout.consecutive_failures > 0 && (
              <span className="muted">
                {scout.consecutive_failures} failed run{scout.consecutive_failures > 1 ? "s" : ""} in a row
              </span>
            )}
          </div>
        </div>
        {scout.is_active && (
          <button type="button" className="btn" onClick={() => setActive(false)} disabled={toggling} data-testid="pause">
            Pause scout
          </button>
        )}
      </div>
      <ErrorAlert message={actionError} />
      <div className="tabs" role="tablist" aria-label="Scout views">
        <button
          type="button"
          role="tab"
          id="tab-configure"
          aria-controls="panel-configure"
          aria-selected={tab === "configure"}
          className="tab"
          onClick={() => setTab("configure")}
          data-testid="tab-configure"
        >
          Setup chat
        </button>
        <button
          type="button"
          role="tab"
          id="tab-results"
          aria-controls="panel-results"
          aria-selected={tab === "results"}
          className="tab"
          onClick={() => setTab("results")}
          data-testid="tab-results"
        >
          Reports
        </button>
      </div>

      {/* The chat stays mounted while hidden so a streaming answer is not cut off. */}
      <div role="tabpanel" id="panel-configure" aria-labelledby="tab-configure" hidden={tab !== "configure"}>
        <div className="configurator">
          <ChatPanel scoutId={id} initialMessages={history} location={location} onConfigChanged={refreshScout} />
          <aside className="card" aria-label="Scout setup">
            <Checklist scout={scout} />
            {scout.is_active ? (
              <div className="alert alert-ok" style={{ margin: 0 }}>
                This scout is active.{" "}
                <button type="button" className="btn-link" onClick={() => setTab("results")}>
                  See reports
                </button>
              </div>
            ) : (
              <>
                <button
                  type="button"
                  className="btn btn-primary"
                  style={{ width: "100%" }}
                  disabled={!scout.is_complete || toggling}
                  onClick={() => setActive(true)}
                  data-testid="activate"
                >
                  {toggling ? <span className="spinner" aria-hidden="true" /> : null}
                  Activate scout
                </button>
                {!scout.is_complete && (
                  <p className="field-hint" style={{ textAlign: "center" }}>
                    Available once every item above is set.
                  </p>
                )}
              </>
            )}
          </aside>
        </div>
      </div>
      <div role="tabpanel" id="panel-results" aria-labelledby="tab-results" hidden={tab !== "results"}>
        {tab === "results" && <ResultsView scout={scout} onScoutStale={refreshScout} />}
      </div>
    </>
  );
}
