"use client";

import { useState } from "react";
import { formatDateTime, formatDuration, relativeTime } from "@/lib/format";
import type { ExecutionAction, ExecutionDetail, ExecutionState, ExecutionStep, ExecutionSummary } from "@/lib/types";
import { Markdown } from "@/components/Markdown";
import { StatusBadge } from "@/components/StatusBadge";

const STATE_LABELS: Record<ExecutionState, string> = {
  planning: "Planning the next step",
  searching: "Searching the web",
  reading: "Reading pages",
  summarizing: "Writing the report",
  done: "Done",
  failed: "Stopped",
};

const TASK_STATUS_LABELS: Record<string, string> = {
  completed: "Found something",
  partial: "Partial results",
  not_found: "Nothing found",
  insufficient_data: "Not enough information",
};

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
  return (
    <li data-status={step.status} data-testid="step">
      <div className="step-head">
        <span className="step-type">{step.step_type}</span>
        <span>{step.description || `Step ${step.step_number}`}</span>
        {step.status !== "completed" && <span className={`badge badge-${step.status === "running" ? "running" : "failed"}`}>{step.status}</span>}
      </div>
      {step.error_message && <div className="small" style={{ color: "var(--bad)" }}>{step.error_message}</div>}
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

interface Props {
  execution: ExecutionSummary;
  detail: ExecutionDetail | undefined;
  onNeedDetail(id: string): void;
  onAction(id: string, action: ExecutionAction): Promise<void>;
}

export function ExecutionCard({ execution: e, detail, onNeedDetail, onAction }: Props) {
  const [acting, setActing] = useState<ExecutionAction | null>(null);
  const running = e.status === "running";
  const actions = detail?.actions ?? [];
  const report = e.results_summary?.response?.trim();

  async function act(a: ExecutionAction) {
    setActing(a);
    try {
      await onAction(e.id, a);
    } finally {
      setActing(null);
    }
  }

  const took =
    e.started_at && e.completed_at ? (new Date(e.completed_at).getTime() - new Date(e.started_at).getTime()) / 1000 : null;

  return (
    <li id={`run-${e.id}`} className="card" data-testid="execution" data-status={e.status} aria-label={`Run started ${formatDateTime(e.started_at)}`}>
      <div className="exec-head">
        <StatusBadge status={e.status} />
        <span className="small" title={formatDateTime(e.started_at)}>
          Started {relativeTime(e.started_at)}
          {took !== null && <span className="muted" title={`Finished ${formatDateTime(e.completed_at)}`}> · took {formatDuration(took)}</span>}
        </span>
        <span className="spacer" />
        {e.results_summary && (
          <span className="badge">{TASK_STATUS_LABELS[e.results_summary.taskStatus] ?? e.results_summary.taskStatus}</span>
        )}
      </div>

      {(running || actions.length > 0) && (
        <div className="exec-live" data-testid="execution-live">
          {running && (
            <span>
              <strong>{STATE_LABELS[e.state] ?? e.state}</strong>
              {detail ? <span className="muted"> · round {detail.round}</span> : null}
            </span>
          )}
          {e.wait_reason && <span data-testid="wait-reason">{e.wait_reason}</span>}
          {e.next_run_at && running && <span className="muted small">next try {relativeTime(e.next_run_at)}</span>}
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

      {e.status === "failed" && e.error_message && (
        <div className="alert alert-error" style={{ marginTop: "0.5rem" }}>
          {e.error_message}
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

      <details
        className="steps"
        onToggle={(ev) => {
          if ((ev.currentTarget as HTMLDetailsElement).open) onNeedDetail(e.id);
        }}
      >
        <summary>Steps{detail ? ` (${detail.steps.length})` : ""}</summary>
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
    </li>
  );
}
