#!/usr/bin/env bash
# Storefront load benchmark (not part of CI): a release server on a fresh SQLite file with the
# demo, wrk on 127.0.0.1 for a bounded time against the aurora test-drive page (no per-request
# blocks: served whole from the cache), the home page (three per-request blocks filled per
# request), a model page and the home page's JSON twin. The load generator shares the machine's cores with the server, so the
# numbers are a floor, not a capacity. Usage: bash .ci/bench-storefront.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-15}"
PORT=18182
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release -p forecourt >/dev/null
DIR=$(mktemp -d)
./target/release/forecourt --database-url "sqlite://$DIR/bench.db" serve --demo --listen "127.0.0.1:$PORT" >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
PATHS=(/t/aurora/test-drive /t/aurora/ /t/aurora/models/s7 '/t/aurora/api/v1/public/pages?path=/&locale=en')
for path in "${PATHS[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")
  [ "$code" = 200 ] || { echo "GET $path answered $code; not benchmarking a failure"; tail -n 20 "$DIR/server.log"; exit 1; }
done
echo "machine: $(nproc) cores; wrk -t1 -c64 -d${SECS}s on the same machine as the server (they share the cores)"
for path in "${PATHS[@]}"; do
  echo; echo "== GET $path ($(curl -s "http://127.0.0.1:$PORT$path" | wc -c) bytes)"
  wrk -t1 -c64 -d"${SECS}s" --latency "http://127.0.0.1:$PORT$path" | grep -E 'Requests/sec|Latency|50%|75%|90%|99%|Non-2xx|Socket errors'
done
