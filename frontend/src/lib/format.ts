import type { ExecutionStatus, Frequency, Scout } from "./types";

export const FREQUENCY_LABELS: Record<Frequency, string> = {
  daily: "Daily",
  every_3_days: "Every 3 days",
  weekly: "Weekly",
};

export function frequencyLabel(f: Frequency | null): string {
  return f ? FREQUENCY_LABELS[f] : "Not set";
}

export const STATUS_LABELS: Record<ExecutionStatus, string> = {
  running: "Running",
  completed: "Finished",
  failed: "Did not finish",
  cancelled: "Cancelled",
};

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "never";
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return iso;
  const secs = Math.round((now - then) / 1000);
  const future = secs < 0;
  const abs = Math.abs(secs);
  let text: string;
  if (abs < 45) return future ? "in a few seconds" : "just now";
  else if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 86400) text = `${Math.round(abs / 3600)} h`;
  else text = `${Math.round(abs / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m === 0) return `${rest}s`;
  return rest ? `${m} min ${rest}s` : `${m} min`;
}

/** The same words for a scout's state everywhere: page, list and switch. */
export function scoutStateLabel(s: Pick<Scout, "is_active" | "is_complete">): string {
  if (s.is_active) return "Active";
  return s.is_complete ? "Paused" : "Setting up";
}

/** "in about 2 minutes", "about 3 hours ago": for sentences, not labels. */
export function relativePhrase(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "";
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return "";
  const secs = Math.round((then - now) / 1000);
  const abs = Math.abs(secs);
  let text: string;
  if (abs < 45) return secs >= 0 ? "in a few seconds" : "a few seconds ago";
  if (abs < 90) text = "a minute";
  else if (abs < 3600) text = `about ${Math.round(abs / 60)} minutes`;
  else if (abs < 5400) text = "about an hour";
  else if (abs < 86400) text = `about ${Math.round(abs / 3600)} hours`;
  else if (abs < 172800) text = "a day";
  else text = `${Math.round(abs / 86400)} days`;
  return secs >= 0 ? `in ${text}` : `${text} ago`;
}

export function scoutTitle(s: Pick<Scout, "title">): string {
  return s.title?.trim() || "Untitled scout";
}
