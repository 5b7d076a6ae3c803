#!/usr/bin/env bash
# Browser tests of the page builder and the storefront: Debian's Chromium driven by
# playwright-core (page-builder/browser-tests), against a debug server with the demo on a fresh
# SQLite file on 127.0.0.1. Called by .ci/run after the Rust tests; runs from a fresh clone.
# Screenshots and console logs of failed tests, and the server log, go to .ci/artifacts/.
# Usage: bash .ci/browser-tests.sh   (TEST_FILTER=substring runs some tests only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ART="$ROOT/.ci/artifacts"
TESTS="page-builder/browser-tests"
mkdir -p "$ART"

step() { printf '\n== %s\n' "$*"; }

step "browser tests: Chromium"
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get install -y chromium >/dev/null ||
    { timeout 300 apt-get update >/dev/null && timeout 900 apt-get install -y chromium >/dev/null; }
fi
/usr/bin/chromium --version 2>/dev/null | tail -n1

step "browser tests: npm packages"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
if [ -f "$TESTS/package-lock.json" ]; then
  (cd "$TESTS" && { timeout 300 npm ci --no-audit --no-fund || timeout 300 npm ci --no-audit --no-fund; })
else
  (cd "$TESTS" && timeout 300 npm install --no-audit --no-fund)
fi

step "browser tests: cargo build -p forecourt"
timeout 1800 cargo build -p forecourt

# A free port on 127.0.0.1, from 18291 up.
PORT=18291
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
BASE="http://127.0.0.1:$PORT"

DIR=$(mktemp -d)
LOG="$DIR/server.log"
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  cp "$LOG" "$ART/browser-server.log" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
server_tail() { echo "-- server log (last 60 lines; whole log in $ART/browser-server.log)"; tail -n 60 "$LOG" || true; }

step "browser tests: demo server on $BASE"
./target/debug/forecourt --database-url "sqlite://$DIR/browser.db" serve --demo --fake-payments-callback-delay-ms 2000 --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SERVER=$!
ready=
for _ in $(seq 1 120); do
  if ! kill -0 "$SERVER" 2>/dev/null; then echo "FAIL: the server exited before it was ready"; server_tail; exit 1; fi
  if curl -fs --max-time 2 "$BASE/readyz" >/dev/null; then ready=1; break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then echo "FAIL: $BASE/readyz did not answer within 60 s"; server_tail; exit 1; fi
echo "ready"

step "browser tests: node $TESTS/builder.test.mjs"
set +e
FORECOURT_URL="$BASE" SCREENSHOT_DIR="$ART/screenshots" timeout 300 node "$TESTS/builder.test.mjs" 2>&1 | tee "$ART/browser-tests.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 124 ] && echo "FAIL: the browser tests took longer than 300 s"
  echo "FAIL: browser tests (exit $rc); screenshots and console logs in $ART/screenshots"
  server_tail
  exit "$rc"
fi
