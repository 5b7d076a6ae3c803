#!/usr/bin/env bash
# Order-placement load benchmark (not part of CI): builds the release server, then runs the
# load generator (core/benches/order_load.rs), which starts `target/release/forecourt serve
# --demo` on a fresh database (SQLite file, or a new PostgreSQL database on 127.0.0.1:5432),
# syncs one vehicle per order, sends orders from 256 keep-alive connections on 127.0.0.1 until
# the count or the time is up, and checks the database afterwards. The load generator shares
# the machine's cores with the server: the figures are floors, not capacity.
# Usage: bash .ci/bench-orders.sh [sqlite|postgres] [seconds] [extra order_load options…]
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
SECS="${2:-20}"
shift $(( $# > 2 ? 2 : $# ))
case "$BACKEND" in
  sqlite) DB=() ;;
  postgres) DB=(--postgres) ;;
  *) echo "usage: $0 [sqlite|postgres] [seconds] [options]" >&2; exit 2 ;;
esac
cargo build --release -p forecourt >/dev/null
# One vehicle is synced per order (100,000); the run ends at that count or after SECS seconds.
cargo bench -p forecourt --bench order_load -- ${DB[@]+"${DB[@]}"} --orders 100000 --seconds "$SECS" "$@"
