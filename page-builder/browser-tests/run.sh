#!/usr/bin/env bash
# Runs the browser tests.
#   bash page-builder/browser-tests/run.sh                  build, start a demo server, test (as CI)
#   FORECOURT_URL=http://127.0.0.1:8080 bash .../run.sh      against a server already running
#                                                            (`forecourt serve --demo`)
# TEST_FILTER=substring runs only the tests whose names contain it; SCREENSHOT_DIR sets where
# failures leave their screenshots (default: screenshots/ here); HEADED=1 shows the browser.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${FORECOURT_URL:-}" ]; then
  exec bash "$HERE/../../.ci/browser-tests.sh"
fi
cd "$HERE"
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || { echo "Chromium is missing: apt-get install -y chromium" >&2; exit 1; }
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$HERE/screenshots}"
exec node builder.test.mjs
