"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useCallback, useState } from "react";
import { ApiError, errorMessage, preferences as prefsApi, scouts as scoutsApi } from "@/lib/api";
import { useRequireUser } from "@/lib/auth";
import { toUIMessages } from "@/lib/chat";
import { saveFailedPrompt } from "@/lib/handoff";
import { scoutTitle } from "@/lib/format";
import { queryKeys, useLiveQueries, useScout, useUpdateScout } from "@/lib/queries";
import type { Scout, ScoutLocation, ScoutPatch } from "@/lib/types";
import { ActiveSwitch } from "@/components/ActiveSwitch";
import { ErrorAlert, Loading, NotFoundPanel } from "@/components/Feedback";
import { ChatPanel } from "./ChatPanel";
import { Checklist } from "./Checklist";
import { ResultsView } from "./ResultsView";
import { addressNamesRun } from "./useRunAnchor";

type Tab = "configure" | "results";

function isMissing(err: unknown): boolean {
  // A malformed id is as unknown as a missing one.
  return err instanceof ApiError && (err.status === 404 || err.code === "not_found" || err.status === 422);
}

/** Nothing set yet: the scout holds only the unanswered first message. */
function isBlank(s: Scout): boolean {
  return !s.title?.trim() && !s.goal?.trim() && !s.description?.trim() && !s.location && !s.search_queries.length && !s.frequency && !s.is_active;
}

export function ScoutPage({ id }: { id: string }) {
  const user = useRequireUser();
  const qc = useQueryClient();
  const router = useRouter();
  // Edits from another tab, activation, auto-disable, last-run times and this scout's
  // runs arrive live and patch the queries; the reports poll only while the stream is down.
  const live = useLiveQueries(!!user);
  const scoutQuery = useScout(id, !!user);
  // The chat owns the conversation once loaded; refetching would reset it mid-stream.
  const historyQuery = useQuery({
    queryKey: queryKeys.messages(id),
    queryFn: async () => toUIMessages(await scoutsApi.messages(id)),
    enabled: !!user,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
  // The assistant may use the saved location when the user says "near me".
  const prefsQuery = useQuery({ queryKey: queryKeys.preferences, queryFn: prefsApi.get, enabled: !!user });
  const update = useUpdateScout(id);
  const [actionError, setActionError] = useState<string | null>(null);
  const [tabChoice, setTab] = useState<Tab | null>(null);

  const refreshScout = useCallback(() => {
    void qc.invalidateQueries({ queryKey: queryKeys.scout(id), exact: true });
    void qc.invalidateQueries({ queryKey: queryKeys.scouts });
  }, [qc, id]);

  const save = useCallback((patch: ScoutPatch) => update.mutateAsync(patch), [update]);

  // A scout exists for the user only once the assistant has answered its first message:
  // a blank one whose first message failed is removed and the text goes back to the home
  // page, instead of leaving an "Untitled scout" behind.
  const scoutData = scoutQuery.data;
  const firstMessageFailed = useCallback(
    async (text: string, reason: string) => {
      const current = qc.getQueryData<Scout>(queryKeys.scout(id)) ?? scoutData;
      if (!current || !isBlank(current)) return;
      try {
        await scoutsApi.remove(id);
      } catch {
        return; // still there: the page stays, with its Try again
      }
      qc.removeQueries({ queryKey: queryKeys.scout(id) });
      void qc.invalidateQueries({ queryKey: queryKeys.scouts });
      saveFailedPrompt(text, reason);
      router.replace("/");
    },
    [qc, id, scoutData, router],
  );

  async function setActive(active: boolean) {
    setActionError(null);
    try {
      await update.mutateAsync({ is_active: active });
      if (active) setTab("results");
    } catch (err) {
      if (err instanceof ApiError && err.code === "scout_incomplete") {
        setActionError("The setup is not finished yet. Fill in every item of the setup first.");
        refreshScout();
      } else setActionError(errorMessage(err));
    }
  }

  const scout = scoutQuery.data;
  const history = historyQuery.data;
  if (isMissing(scoutQuery.error) || isMissing(historyQuery.error)) return <NotFoundPanel what="Scout" />;
  if (scoutQuery.error && !scout) return <ErrorAlert message={errorMessage(scoutQuery.error)} />;
  if (!user || !scout || !history) return <Loading label="Loading scout…" />;
  // A linked run (a search result) shows the reports even for a paused scout.
  const tab: Tab = tabChoice ?? (scout.is_active || addressNamesRun() ? "results" : "configure");
  const p = prefsQuery.data?.location;
  const location: ScoutLocation | null = p?.city ? { city: p.city, latitude: p.latitude ?? null, longitude: p.longitude ?? null } : null;
  const toggling = update.isPending && update.variables?.is_active !== undefined;

  return (
    <>
      <div className="page-head">
        <div>
          <h1 data-testid="scout-title">{scoutTitle(scout)}</h1>
          {scout.consecutive_failures > 0 && (
            <p className="small">
              {scout.consecutive_failures} run{scout.consecutive_failures > 1 ? "s" : ""} in a row did not finish
            </p>
          )}
        </div>
        <ActiveSwitch
          scout={scout}
          busy={toggling || (!scout.is_active && !scout.is_complete)}
          onChange={setActive}
          label={`Active: ${scoutTitle(scout)}`}
        />
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
          Setup
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
        <a href="#scout-setup" className="jump-link" data-testid="jump-to-setup">
          Jump to the setup checklist
        </a>
        <div className="configurator">
          <ChatPanel
            scoutId={id}
            initialMessages={history}
            location={location}
            onConfigChanged={refreshScout}
            onFirstMessageFailed={firstMessageFailed}
          />
          <aside className="card" aria-label="Scout setup" id="scout-setup">
            <Checklist scout={scout} onSave={save} />
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
        {tab === "results" && <ResultsView scout={scout} live={live} onScoutStale={refreshScout} />}
      </div>
    </>
  );
}
