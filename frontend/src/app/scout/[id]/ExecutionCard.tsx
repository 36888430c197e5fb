"use client";

import { useState } from "react";
import { formatDateTime, formatDuration, relativePhrase, relativeTime } from "@/lib/format";
import { useExecutionDetail, useSecondsUntil } from "@/lib/queries";
import type { ExecutionAction, ExecutionDetail, ExecutionState, ExecutionStep, ExecutionSummary } from "@/lib/types";
import { Markdown } from "@/components/Markdown";
import { StatusBadge } from "@/components/StatusBadge";
import { SourceCards } from "./SourceCards";

const TASK_STATUS_LABELS: Record<string, string> = {
  completed: "Found something",
  partial: "Partial results",
  not_found: "Nothing found",
  insufficient_data: "Not enough information",
};

/** A finished run whose report says there was nothing to tell. */
export function foundNothing(e: ExecutionSummary): boolean {
  if (e.status !== "completed" || !e.results_summary) return false;
  return !e.results_summary.taskCompleted || e.results_summary.taskStatus === "not_found";
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** What the run is doing, in words: "Reading 3 pages". */
export function activityText(state: ExecutionState, detail: ExecutionDetail | undefined): string {
  const pending = detail?.checkpoint?.pending_tool_calls ?? 0;
  switch (state) {
    case "planning":
      return "Deciding what to look at next";
    case "searching":
      return pending ? `Searching the web for ${plural(pending, "thing", "things")}` : "Searching the web";
    case "reading":
      return pending ? `Reading ${plural(pending, "page", "pages")}` : "Reading pages";
    case "summarizing":
      return "Writing the report";
    default:
      return "Finishing";
  }
}

// Engine vocabulary an owner cannot act on; such text stays under "Technical details".
const TECHNICAL = /worker|lease|tick|round \d|\d{4}-\d\d-\d\dT|traceback|exception|errno|https?:\/\/|\d+\.\d+\.\d+\.\d+/i;

export function isPlain(text: string | null | undefined): text is string {
  return !!text && !TECHNICAL.test(text);
}

export function isCancelStep(step: ExecutionStep): boolean {
  return /^cancelled by/i.test(step.error_message ?? "");
}

/**
 * Time the run spent working: a run resumed after it stopped leaves out the
 * pause between the stop and the resume.
 */
export function workingSeconds(e: ExecutionSummary, steps: ExecutionStep[] | undefined): number | null {
  if (!e.started_at || !e.completed_at) return null;
  let total = new Date(e.completed_at).getTime() - new Date(e.started_at).getTime();
  const sorted = [...(steps ?? [])].sort((a, b) => a.step_number - b.step_number);
  for (let i = 0; i + 1 < sorted.length; i++) {
    const stop = sorted[i];
    const next = sorted[i + 1];
    if (stop.status !== "failed" || !stop.completed_at || !next.started_at) continue;
    if (!/^Run (failed|cancelled)$/.test(stop.description ?? "") && !isCancelStep(stop)) continue;
    total -= Math.max(0, new Date(next.started_at).getTime() - new Date(stop.completed_at).getTime());
  }
  return Math.max(0, total / 1000);
}

function pretty(data: unknown): string {
  if (data === null || data === undefined) return "(none)";
  if (typeof data === "string") return data;
  try {
    return JSON.stringify(data, null, 2);
  } catch {
    return String(data);
  }
}

function StepItem({ step }: { step: ExecutionStep }) {
  const status = step.status === "failed" && isCancelStep(step) ? "cancelled" : step.status;
  return (
    <li data-status={status} data-testid="step">
      <div className="step-head">
        <span className="step-type">{step.step_type}</span>
        <span>{step.description || `Step ${step.step_number}`}</span>
        {status !== "completed" && (
          <span className={`badge badge-${status}`} data-testid="step-status">
            {status}
          </span>
        )}
      </div>
      {step.error_message && <div className="small">{step.error_message}</div>}
      <details className="step-io">
        <summary>Input</summary>
        <pre>{pretty(step.input_data)}</pre>
      </details>
      <details className="step-io">
        <summary>Output</summary>
        <pre>{pretty(step.output_data)}</pre>
      </details>
    </li>
  );
}

function TechnicalDetails({ e, detail }: { e: ExecutionSummary; detail: ExecutionDetail | undefined }) {
  return (
    <details className="steps" data-testid="technical-details">
      <summary>Technical details</summary>
      <dl className="tech">
        <dt>Run id</dt>
        <dd>{e.id}</dd>
        <dt>State</dt>
        <dd>{e.state}</dd>
        {e.started_at && (
          <>
            <dt>Started</dt>
            <dd>{e.started_at}</dd>
          </>
        )}
        {e.completed_at && (
          <>
            <dt>Ended</dt>
            <dd>{e.completed_at}</dd>
          </>
        )}
        {e.wait_reason && (
          <>
            <dt>Waiting</dt>
            <dd>{e.wait_reason}</dd>
          </>
        )}
        {e.error_message && (
          <>
            <dt>Error</dt>
            <dd data-testid="technical-error">{e.error_message}</dd>
          </>
        )}
        {detail && (
          <>
            <dt>Attempts</dt>
            <dd>{detail.attempts}</dd>
            <dt>Round</dt>
            <dd>{detail.round}</dd>
            {detail.lease_owner && (
              <>
                <dt>Worker</dt>
                <dd>
                  {detail.lease_owner} until {detail.lease_expires_at}
                </dd>
              </>
            )}
          </>
        )}
      </dl>
      {!detail ? (
        <p className="small muted">Loading steps…</p>
      ) : detail.steps.length === 0 ? (
        <p className="small muted">No steps recorded yet.</p>
      ) : (
        <ol className="timeline" data-testid="step-timeline">
          {[...detail.steps]
            .sort((a, b) => a.step_number - b.step_number)
            .map((s) => (
              <StepItem key={s.id} step={s} />
            ))}
        </ol>
      )}
    </details>
  );
}

interface Props {
  execution: ExecutionSummary;
  onAction(id: string, action: ExecutionAction): Promise<void>;
}

export function ExecutionCard({ execution: e, onAction }: Props) {
  const [acting, setActing] = useState<ExecutionAction | null>(null);
  const { data: detail } = useExecutionDetail(e.id, e.status);
  const running = e.status === "running";
  const actions = detail?.actions ?? [];
  const report = e.results_summary?.response?.trim();
  const byOwner = /owner/i.test(e.error_message ?? "");

  async function act(a: ExecutionAction) {
    setActing(a);
    try {
      await onAction(e.id, a);
    } finally {
      setActing(null);
    }
  }

  // Only with the steps: without them a resumed run's pause would count as work.
  const took = detail ? workingSeconds(e, detail.steps) : null;
  const waitSeconds = useSecondsUntil(running ? e.next_run_at : null);
  const waiting = waitSeconds > 0;

  return (
    <li id={`run-${e.id}`} className="card" data-testid="execution" data-status={e.status} aria-label={`Run started ${formatDateTime(e.started_at)}`}>
      <div className="exec-head">
        <StatusBadge status={e.status} label={e.status === "cancelled" ? (byOwner ? "Cancelled by you" : "Cancelled") : undefined} />
        <span className="small" title={formatDateTime(e.started_at)}>
          Started {relativeTime(e.started_at)}
          {took !== null && <span className="muted" data-testid="run-took"> · took {formatDuration(took)}</span>}
        </span>
        <span className="spacer" />
        {e.results_summary && (
          <span className="badge">{TASK_STATUS_LABELS[e.results_summary.taskStatus] ?? "Report"}</span>
        )}
      </div>

      {(running || actions.length > 0) && (
        <div className="exec-live" data-testid="execution-live">
          {running && (
            <span>
              <strong data-testid="activity">{activityText(e.state, detail)}</strong>
              {waiting && (
                <span data-testid="wait-reason">
                  {" "}
                  · {isPlain(e.wait_reason) ? `${e.wait_reason}; ` : "a service is busy; "}
                  trying again {relativePhrase(e.next_run_at)}
                </span>
              )}
            </span>
          )}
          {e.status === "failed" && <span>This run stopped before it finished. Resume picks it up where it stopped.</span>}
          {e.status === "cancelled" && (
            <span data-testid="cancelled-note">
              {byOwner ? "You cancelled this run" : "This run was cancelled"} {relativeTime(e.completed_at)}. Resume continues it.
            </span>
          )}
          <span className="spacer" />
          {actions.includes("cancel") && (
            <button type="button" className="btn btn-small btn-danger" onClick={() => act("cancel")} disabled={acting !== null} data-testid="execution-cancel">
              {acting === "cancel" ? "Cancelling…" : "Cancel run"}
            </button>
          )}
          {actions.includes("resume") && (
            <button type="button" className="btn btn-small" onClick={() => act("resume")} disabled={acting !== null} data-testid="execution-resume">
              {acting === "resume" ? "Resuming…" : "Resume"}
            </button>
          )}
        </div>
      )}

      {e.is_duplicate && (
        <div className="alert alert-info" style={{ marginTop: "0.5rem" }} data-testid="duplicate-note">
          Nothing new: this matches an earlier report, so no email was sent.
        </div>
      )}

      {report ? (
        <div className="report" data-testid="report">
          <Markdown>{report}</Markdown>
        </div>
      ) : e.summary_text ? (
        <p className="report">{e.summary_text}</p>
      ) : null}

      {detail && <SourceCards steps={detail.steps} />}

      <TechnicalDetails e={e} detail={detail} />
    </li>
  );
}
