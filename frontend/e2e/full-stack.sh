#!/usr/bin/env bash
# Runs e2e/run.mjs against the real stack on this machine: the fakes of Ollama,
# SearXNG and Crawl4AI, the aiohttp backend on a throwaway SQLite database, and
# the built Next.js app. Everything started here is stopped on exit.
#   frontend/e2e/full-stack.sh            (PYTHON defaults to .venv/bin/python at the repo root)
set -euo pipefail
FRONTEND=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$FRONTEND/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d)
API_PORT=${E2E_API_PORT:-18000}
WEB_PORT=${E2E_WEB_PORT:-13000}
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$FRONTEND/test-results}
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() { # url, seconds
  for _ in $(seq "$2"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 1; done
  echo "timed out waiting for $1" >&2; return 1
}

cd "$ROOT"
setsid "$PYTHON" -m tests.fakes.serve --port-file "$WORK/fakes.json" >"$WORK/fakes.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 30); do [ -s "$WORK/fakes.json" ] && break; sleep 1; done
[ -s "$WORK/fakes.json" ] || { cat "$WORK/fakes.log"; echo "fakes did not start" >&2; exit 1; }
fake() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or '')" "$WORK/fakes.json" "$1"; }

export DATABASE_URL="sqlite+aiosqlite:///$WORK/scouts.db"
export API_HOST=127.0.0.1 API_PORT
export OLLAMA_URL=$(fake ollama) SEARXNG_URL=$(fake searxng) CRAWL4AI_URL=$(fake crawl4ai) CRAWL4AI_TOKEN=$(fake crawl4ai_token)
export SCRAPE_ALLOW_HOSTS=127.0.0.1 SCHEDULER_ENABLED=true TICK_SECONDS=${TICK_SECONDS:-1}
"$PYTHON" -m api.cli migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; exit 1; }
setsid "$PYTHON" -m api.cli serve >"$WORK/api.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$API_PORT/api/health" 30 || { tail -50 "$WORK/api.log"; exit 1; }

cd "$FRONTEND"
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f .next/BUILD_ID ] && [ -z "${E2E_REBUILD:-}" ] || NEXT_TELEMETRY_DISABLED=1 npm run build >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
NEXT_TELEMETRY_DISABLED=1 API_URL="http://127.0.0.1:$API_PORT" setsid node_modules/.bin/next start -H 127.0.0.1 -p "$WEB_PORT" >"$WORK/web.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$WEB_PORT/login" 60 || { tail -40 "$WORK/web.log"; exit 1; }

status=0
BASE_URL="http://127.0.0.1:$WEB_PORT" node e2e/run.mjs || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- backend log (tail) ---"; tail -40 "$WORK/api.log"
fi
exit "$status"
