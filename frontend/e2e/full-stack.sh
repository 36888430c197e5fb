#!/usr/bin/env bash
# Runs e2e/run.mjs in Chromium against the real stack on this machine: the fakes of
# Ollama, SearXNG and Crawl4AI (tests/fakes/serve.py), the aiohttp backend with its
# scheduler on a throwaway SQLite database, and the production build of the Next.js app
# served the way the image serves it (.next/standalone/server.js).
#
#   frontend/e2e/full-stack.sh
#
# PYTHON         interpreter with the backend installed (default: <repo>/.venv/bin/python)
# E2E_ARTIFACTS  screenshots and service logs (default: <repo>/test-artifacts/browser-e2e)
# E2E_REBUILD=1  build the app even when the build looks current
# Ports are picked free at run time. Everything started here is stopped on exit, also
# on failure or Ctrl-C. Nothing talks to a non-loopback address.
set -euo pipefail
FRONTEND=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$FRONTEND/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$ROOT/test-artifacts/browser-e2e}
export NEXT_TELEMETRY_DISABLED=1
WORK=$(mktemp -d)
LOGS="$E2E_ARTIFACTS/logs"
PIDS=()

cleanup() {
  local status=$?
  # Every service runs in its own session (setsid), so killing the group also ends its
  # children (next's workers, for one).
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  mkdir -p "$LOGS" && cp "$WORK"/*.log "$LOGS"/ 2>/dev/null || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { # message, log file to show
  echo "$1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && { echo "--- $(basename "$2") (tail) ---" >&2; tail -40 "$2" >&2; }
  exit 1
}
free_ports() { # count; all held open together so they differ
  "$PYTHON" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
wait_for() { # seconds, description, command...; polls the command until it succeeds
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  log "$what is up"
}
alive_http() { curl -fsS -o /dev/null --max-time 2 "$1"; }

[ -x "$PYTHON" ] || fail "no python at $PYTHON (set PYTHON)"
mkdir -p "$E2E_ARTIFACTS" && rm -f "$E2E_ARTIFACTS"/*.png && rm -rf "$LOGS"
cd "$ROOT"

# 1. fakes: they bind free ports themselves and write the URLs to a file once listening.
setsid "$PYTHON" -m tests.fakes.serve --smtp --agent-delay 1.5 --port-file "$WORK/fakes.json" >"$WORK/fakes.log" 2>&1 &
PIDS+=($!)

# 2. meanwhile, the front end: install and build only when something changed.
cd "$FRONTEND"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1 || fail "npm ci failed" "$WORK/npm.log"
  touch node_modules
fi
STANDALONE=.next/standalone
if [ -n "${E2E_REBUILD:-}" ] || [ ! -f "$STANDALONE/server.js" ] || [ ! -f .next/BUILD_ID ] ||
  [ -n "$(find src public package.json package-lock.json next.config.ts tsconfig.json -newer .next/BUILD_ID -print -quit)" ]; then
  log "building the app"
  npm run build >"$WORK/build.log" 2>&1 || fail "next build failed" "$WORK/build.log"
fi
# The standalone server expects static assets next to it (the Dockerfile copies them too).
rm -rf "$STANDALONE/.next/static" "$STANDALONE/public"
cp -r .next/static "$STANDALONE/.next/static"
cp -r public "$STANDALONE/public"

# 3. backend on a throwaway database, pointed at the fakes, scheduler ticking every second.
cd "$ROOT"
wait_for 30 "fakes" test -s "$WORK/fakes.json" || fail "fakes did not start" "$WORK/fakes.log"
fake() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]] or "")' "$WORK/fakes.json" "$1"; }
read -r API_PORT WEB_PORT < <(free_ports 2)
(
  export APP_ENV=development DATABASE_URL="sqlite+aiosqlite:///$WORK/scouts.db"
  export API_HOST=127.0.0.1 API_PORT
  export OLLAMA_URL=$(fake ollama) SEARXNG_URL=$(fake searxng)
  export CRAWL4AI_URL=$(fake crawl4ai) CRAWL4AI_TOKEN=$(fake crawl4ai_token)
  export SCRAPE_ALLOW_HOSTS=127.0.0.1 SCHEDULER_ENABLED=true TICK_SECONDS=${TICK_SECONDS:-1}
  export DEMO_MODE=true
  export SMTP_URL=$(fake smtp) PUBLIC_URL="http://127.0.0.1:$WEB_PORT"
  exec setsid "$PYTHON" -m api.cli serve >"$WORK/api.log" 2>&1
) &
PIDS+=($!)

# 4. the app, proxying /api to the backend.
(
  cd "$FRONTEND/$STANDALONE"
  export NODE_ENV=production HOSTNAME=127.0.0.1 PORT=$WEB_PORT API_URL="http://127.0.0.1:$API_PORT"
  exec setsid node "$FRONTEND/serve.mjs" . >"$WORK/web.log" 2>&1
) &
PIDS+=($!)

wait_for 60 "backend" alive_http "http://127.0.0.1:$API_PORT/api/health" || fail "backend did not start" "$WORK/api.log"
wait_for 60 "app" alive_http "http://127.0.0.1:$WEB_PORT/login" || fail "app did not start" "$WORK/web.log"

cd "$FRONTEND"
status=0
BASE_URL="http://127.0.0.1:$WEB_PORT" node e2e/run.mjs || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- backend log (tail) ---"; tail -40 "$WORK/api.log"
fi
exit "$status"
