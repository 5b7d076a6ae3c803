#!/usr/bin/env bash
# HTTP load benchmark (not part of CI): a release server on a fresh SQLite file with the demo,
# wrk on 127.0.0.1 for a bounded time. The load generator shares the machine's cores with the
# server. Usage: bash .ci/bench-http.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-15}"
PORT=18181
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release -p forecourt >/dev/null
DIR=$(mktemp -d)
./target/release/forecourt --database-url "sqlite://$DIR/bench.db" serve --demo --listen "127.0.0.1:$PORT" >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -fs "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"tenant":"aurora","email":"sales.sh01@aurora.example","password":"forecourt-demo"}' | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
echo "machine: $(nproc) cores; wrk -t1 -c64 -d${SECS}s on the same machine as the server"
for path in /healthz /api/v1/me /api/v1/org/stores/sh01; do
  echo; echo "== GET $path"
  wrk -t1 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx'
done
