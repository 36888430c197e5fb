import { STATUS_LABELS } from "@/lib/format";
import type { ExecutionStatus } from "@/lib/types";

export function StatusBadge({ status, label }: { status: ExecutionStatus; label?: string }) {
  return (
    <span className={`badge badge-${status}`} data-testid="status-badge" data-status={status}>
      {status === "running" ? <span className="spinner" aria-hidden="true" style={{ width: "0.7rem", height: "0.7rem" }} /> : null}
      {label ?? STATUS_LABELS[status] ?? status}
    </span>
  );
}
