// Wire types of the Open Scouts API (see the backend contract). Kept in one
// place so pages never guess at field names.

export interface User {
  id: string;
  email: string;
  created_at: string;
}

export interface Session {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: User;
}

export type Frequency = "daily" | "every_3_days" | "weekly";

export interface ScoutLocation {
  city: string;
  latitude: number | null;
  longitude: number | null;
}

export interface Scout {
  id: string;
  title: string | null;
  goal: string | null;
  description: string | null;
  search_queries: string[];
  location: ScoutLocation | null;
  frequency: Frequency | null;
  is_active: boolean;
  is_complete: boolean;
  last_run_at: string | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
  /** When "Run now" opens again; null when a manual run is allowed now. */
  run_now_available_at: string | null;
}

export type ExecutionStatus = "running" | "completed" | "failed" | "cancelled";
export type ExecutionState = "planning" | "searching" | "reading" | "summarizing" | "done" | "failed";

export interface ResultsSummary {
  taskCompleted: boolean;
  taskStatus: string;
  response: string;
}

export interface ExecutionSummary {
  id: string;
  scout_id: string;
  status: ExecutionStatus;
  state: ExecutionState;
  started_at: string | null;
  completed_at: string | null;
  error_message: string | null;
  summary_text: string | null;
  is_duplicate: boolean;
  results_summary: ResultsSummary | null;
  wait_reason: string | null;
  next_run_at: string | null;
}

export type StepType = "search" | "scrape" | "analyze" | "summarize" | "tool_call";

export interface ExecutionStep {
  id: string;
  step_number: number;
  step_type: StepType;
  description: string | null;
  input_data: unknown;
  output_data: unknown;
  status: "running" | "completed" | "failed";
  started_at: string | null;
  completed_at: string | null;
  error_message: string | null;
}

export type ExecutionAction = "cancel" | "resume";

export interface ExecutionDetail extends ExecutionSummary {
  attempts: number;
  round: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  deadline_at: string | null;
  actions: ExecutionAction[];
  steps: ExecutionStep[];
  checkpoint?: {
    round: number;
    searches: number;
    pages_read: number;
    pending_tool_calls: number;
  };
}

export interface ScoutListItem extends Scout {
  latest_execution: ExecutionSummary | null;
}

export interface StoredMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  created_at: string;
}

export interface PreferenceLocation {
  city: string;
  state?: string | null;
  country?: string | null;
  latitude?: number | null;
  longitude?: number | null;
}

export interface Preferences {
  location: PreferenceLocation | null;
  notification_email: string | null;
  notifications_enabled: boolean;
}

export type ScoutPatch = Partial<
  Pick<Scout, "title" | "goal" | "description" | "search_queries" | "location" | "frequency" | "is_active">
>;

/** One hit of GET /api/findings: a finished run whose summary matched the search. */
export interface Finding {
  execution_id: string;
  scout_id: string;
  scout_title: string | null;
  completed_at: string | null;
  summary: string;
  excerpt: string;
  /** Cosine similarity; null for a text match on a run that has no embedding yet. */
  similarity: number | null;
  match: "meaning" | "text";
  is_duplicate: boolean;
}

/** A city from GET /api/places (the offline gazetteer). */
export interface Place {
  city: string;
  state: string | null;
  stateCode: string | null;
  country: string;
  countryCode: string;
  latitude: number;
  longitude: number;
}
