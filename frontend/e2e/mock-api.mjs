// A small in-memory stand-in for the aiohttp API, for working on the front end
// (and smoke-testing e2e/run.mjs) when no backend is running. It follows the
// documented contract loosely; the real backend is the authority.
//   node e2e/mock-api.mjs [port]     then   API_URL=http://127.0.0.1:<port> npm run dev
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";

const port = Number(process.argv[2] || process.env.PORT || 8000);
const users = new Map(); // email -> {id,email,password,created_at}
const access = new Map(); // token -> userId
const refresh = new Map(); // token -> userId
const scouts = new Map(); // id -> scout (+user_id)
const messages = new Map(); // scoutId -> [{id,role,content,created_at}]
const executions = new Map(); // id -> execution (+steps, +t0)
const prefs = new Map(); // userId -> preferences
const lastManualRun = new Map(); // scoutId -> ms
const COOLDOWN_MS = 20 * 60 * 1000;

const now = () => new Date().toISOString();
const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body === undefined ? "" : JSON.stringify(body));
};
const fail = (res, status, code, message, extra = {}, headers = {}) =>
  send(res, status, { error: { code, message, ...extra } }, headers);

function session(user) {
  const a = randomUUID(), r = randomUUID();
  access.set(a, user.id);
  refresh.set(r, user.id);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return { access_token: a, token_type: "bearer", expires_in: 3600, expires_at: exp, refresh_token: r, user: publicUser(user) };
}
const publicUser = (u) => ({ id: u.id, email: u.email, created_at: u.created_at });
const userById = (id) => [...users.values()].find((u) => u.id === id);

function complete(s) {
  return !!(s.title && s.goal && s.description && s.location && s.search_queries.length && s.frequency);
}
function publicScout(s) {
  const { user_id: _u, ...rest } = s;
  return { ...rest, is_complete: complete(s) };
}

function advance(e) {
  // Runs move on with wall-clock time so polling has something to see.
  if (e.status !== "running") return;
  const age = (Date.now() - e.t0) / 1000;
  const plan = [
    [0, "planning", null],
    [1.5, "searching", { step_type: "search", description: "Searched for the scout's queries", input_data: { query: "example" }, output_data: { results: 3 } }],
    [3, "reading", { step_type: "scrape", description: "Read https://example.com/news", input_data: { url: "https://example.com/news" }, output_data: { chars: 2000 } }],
    [4.5, "summarizing", { step_type: "summarize", description: "Wrote the report", input_data: null, output_data: { taskStatus: "completed" } }],
  ];
  for (const [t, state, step] of plan) {
    if (age >= t && !e.seen.has(state)) {
      e.seen.add(state);
      e.state = state;
      if (step) e.steps.push({ id: randomUUID(), step_number: e.steps.length + 1, status: "completed", started_at: now(), completed_at: now(), error_message: null, ...step });
    }
  }
  if (age >= 6) {
    e.status = "completed";
    e.state = "done";
    e.completed_at = now();
    e.summary_text = "Two new places opened this week.";
    e.results_summary = {
      taskCompleted: true,
      taskStatus: "completed",
      response: "## Two new places opened\n\nTwo openings turned up this week.\n\n- **Spice House**, opened 3 May, [details](https://example.com/a)\n- **Curry Corner**, opened 5 May, [details](https://example.com/b)\n\n<script>alert('x')</script>",
    };
    const s = scouts.get(e.scout_id);
    if (s) s.last_run_at = now();
  }
}
function summary(e) {
  advance(e);
  const { steps: _s, t0: _t, seen: _n, ...rest } = e;
  return rest;
}
function detail(e) {
  const base = summary(e);
  return { ...base, attempts: 1, round: e.steps.length, lease_owner: null, lease_expires_at: null, deadline_at: null, actions: e.status === "running" ? ["cancel"] : [], steps: e.steps };
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (!chunks.length) return {};
  try { return JSON.parse(Buffer.concat(chunks).toString("utf8")); } catch { return null; }
}

function streamChat(res, scout, userText) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-vercel-ai-ui-message-stream": "v1" });
  const out = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  const call = randomUUID();
  let input, reply;
  if (!scout.title) {
    input = { title: "Denver Indian food", goal: `Find: ${userText}`, description: "New Indian restaurants opening in the Denver area.", search_queries: ["new Indian restaurant Denver", "Denver restaurant openings Indian", "Indian cuisine Denver opening"] };
    reply = "I set up the basics. Where should I look, and how often should I check?";
  } else {
    input = { location: { city: "Denver", latitude: 39.74, longitude: -104.99 }, frequency: "daily" };
    reply = "Done. I will check Denver daily. Activate the scout when you are ready.";
  }
  Object.assign(scout, input, { updated_at: now() });
  const msgs = messages.get(scout.id);
  msgs.push({ id: randomUUID(), role: "user", content: userText, created_at: now() });
  msgs.push({ id: randomUUID(), role: "assistant", content: reply, created_at: now() });
  const chunks = [
    { type: "start" }, { type: "start-step" },
    { type: "tool-input-available", toolCallId: call, toolName: "update_scout_config", input },
    { type: "tool-output-available", toolCallId: call, output: { ok: true } },
    { type: "finish-step" }, { type: "start-step" }, { type: "text-start", id: "t1" },
    ...reply.split(/(?<= )/).map((d) => ({ type: "text-delta", id: "t1", delta: d })),
    { type: "text-end", id: "t1" }, { type: "finish-step" }, { type: "finish", finishReason: "stop" },
  ];
  let i = 0;
  const tick = () => {
    if (i < chunks.length) { out(chunks[i++]); setTimeout(tick, 40); }
    else { res.write("data: [DONE]\n\n"); res.end(); }
  };
  tick();
}

createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  const m = req.method;
  const body = m === "GET" || m === "DELETE" ? {} : await readJson(req);
  if (body === null) return fail(res, 400, "bad_json", "Body is not JSON.");

  if (m === "POST" && (p === "/api/auth/signup" || p === "/api/auth/login")) {
    const email = String(body.email || "").trim().toLowerCase();
    const password = String(body.password || "");
    if (!email.includes("@")) return fail(res, 422, "validation_error", "email must be a valid address");
    if (p.endsWith("signup")) {
      if (password.length < 8) return fail(res, 422, "validation_error", "password must be at least 8 characters");
      if (users.has(email)) return fail(res, 409, "email_taken", "An account with this email exists.");
      const u = { id: randomUUID(), email, password, created_at: now() };
      users.set(email, u);
      return send(res, 201, session(u));
    }
    const u = users.get(email);
    if (!u || u.password !== password) return fail(res, 401, "invalid_credentials", "Wrong email or password.");
    return send(res, 200, session(u));
  }
  if (m === "POST" && p === "/api/auth/refresh") {
    const uid = refresh.get(body.refresh_token);
    if (!uid) return fail(res, 401, "invalid_token", "Refresh token is not valid.");
    refresh.delete(body.refresh_token);
    return send(res, 200, session(userById(uid)));
  }
  if (m === "POST" && p === "/api/auth/logout") {
    refresh.delete(body.refresh_token);
    return send(res, 204);
  }

  const token = (req.headers.authorization || "").replace(/^Bearer /, "");
  const uid = access.get(token);
  if (!uid) return fail(res, 401, "unauthorized", "Sign in first.");
  const user = userById(uid);

  if (m === "GET" && p === "/api/auth/me") return send(res, 200, { user: publicUser(user) });
  if (p === "/api/preferences") {
    if (m === "PUT") prefs.set(uid, { location: body.location ?? null, notification_email: body.notification_email ?? null, notifications_enabled: !!body.notifications_enabled });
    return send(res, 200, { preferences: prefs.get(uid) ?? { location: null, notification_email: null, notifications_enabled: true } });
  }
  if (p === "/api/scouts" && m === "GET") {
    const list = [...scouts.values()].filter((s) => s.user_id === uid).sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    return send(res, 200, {
      scouts: list.map((s) => {
        const latest = [...executions.values()].filter((e) => e.scout_id === s.id).at(-1);
        return { ...publicScout(s), latest_execution: latest ? summary(latest) : null };
      }),
    });
  }
  if (p === "/api/scouts" && m === "POST") {
    const s = { id: randomUUID(), user_id: uid, title: null, goal: null, description: null, search_queries: [], location: null, frequency: null, is_active: false, last_run_at: null, consecutive_failures: 0, created_at: now(), updated_at: now(), ...body };
    scouts.set(s.id, s);
    messages.set(s.id, []);
    return send(res, 201, { scout: publicScout(s) });
  }
  if (p === "/api/chat" && m === "POST") {
    const s = scouts.get(body.scoutId);
    if (!s || s.user_id !== uid) return fail(res, 404, "not_found", "Scout not found.");
    const last = body.messages?.at(-1);
    const text = last?.parts?.filter((x) => x.type === "text").map((x) => x.text).join("") ?? "";
    return streamChat(res, s, text);
  }
  let mm = p.match(/^\/api\/scouts\/([^/]+)(\/(messages|executions|run))?$/);
  if (mm) {
    const s = scouts.get(mm[1]);
    if (!s || s.user_id !== uid) return fail(res, 404, "not_found", "Scout not found.");
    const sub = mm[3];
    if (!sub && m === "GET") return send(res, 200, { scout: publicScout(s) });
    if (!sub && m === "PATCH") {
      if (body.is_active === true && !complete({ ...s, ...body })) return fail(res, 422, "scout_incomplete", "Finish setting up the scout first.");
      Object.assign(s, body, { updated_at: now() });
      return send(res, 200, { scout: publicScout(s) });
    }
    if (!sub && m === "DELETE") { scouts.delete(s.id); return send(res, 204); }
    if (sub === "messages") return send(res, 200, { messages: messages.get(s.id) });
    if (sub === "executions") {
      const list = [...executions.values()].filter((e) => e.scout_id === s.id).reverse().map(summary);
      return send(res, 200, { executions: list, next_cursor: null });
    }
    if (sub === "run" && m === "POST") {
      if (!complete(s)) return fail(res, 422, "scout_incomplete", "Finish setting up the scout first.");
      const running = [...executions.values()].find((e) => e.scout_id === s.id && e.status === "running");
      if (running) return fail(res, 409, "run_in_progress", "A run is already in progress.");
      const last = lastManualRun.get(s.id);
      if (last && Date.now() - last < COOLDOWN_MS) {
        const left = Math.ceil((COOLDOWN_MS - (Date.now() - last)) / 1000);
        return fail(res, 429, "cooldown", "This scout was run recently.", { retry_after_seconds: left }, { "retry-after": String(left) });
      }
      lastManualRun.set(s.id, Date.now());
      const e = { id: randomUUID(), scout_id: s.id, status: "running", state: "planning", started_at: now(), completed_at: null, error_message: null, summary_text: null, is_duplicate: false, results_summary: null, wait_reason: null, next_run_at: null, steps: [], t0: Date.now(), seen: new Set() };
      executions.set(e.id, e);
      return send(res, 202, { execution: summary(e) });
    }
  }
  mm = p.match(/^\/api\/executions\/([^/]+)(\/(cancel|resume))?$/);
  if (mm) {
    const e = executions.get(mm[1]);
    const s = e && scouts.get(e.scout_id);
    if (!e || !s || s.user_id !== uid) return fail(res, 404, "not_found", "Execution not found.");
    if (mm[3] === "cancel") {
      if (e.status !== "running") return fail(res, 409, "not_allowed", "This run is not running.");
      Object.assign(e, { status: "cancelled", state: "failed", completed_at: now(), error_message: "Cancelled by user" });
    } else if (mm[3] === "resume") return fail(res, 409, "not_allowed", "This run cannot be resumed.");
    return send(res, 200, { execution: detail(e) });
  }
  return fail(res, 404, "not_found", "No such route.");
}).listen(port, "127.0.0.1", () => console.log(`mock api on http://127.0.0.1:${port}`));
