#!/usr/bin/env bash
# Installs what the browser tests drive Chromium with: playwright-core, pinned in
# tests/browser/package-lock.json, into tests/browser/node_modules (`npm ci`; skipped when the
# installed version already matches the lock). Never downloads a browser: the tests launch
# Debian's /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs it).
# Needs: node and npm, and the npm registry the first time. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-browser-deps: $tool is missing: the browser tests run playwright-core under node." >&2
    echo "  Install node 20 or later with npm (on Debian: apt-get install -y nodejs npm)." >&2
    exit 1
  fi
done

# The version the lock pins, and the one installed (empty when none).
locked=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')
installed=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch { console.log("") }')
if [ "$installed" = "$locked" ]; then
  echo "install-browser-deps: playwright-core $locked already in tests/browser/node_modules" >&2
else
  echo "install-browser-deps: npm ci in tests/browser (playwright-core $locked)" >&2
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces, playwright-core has no install hook.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
fi

chromium="${CLAUDERON_TEST_CHROMIUM:-/usr/bin/chromium}"
if ! [ -x "$chromium" ]; then
  echo "install-browser-deps: Chromium is missing ($chromium): the browser tests will fail." >&2
  echo "  Install it with: apt-get install -y chromium (.ci/run does)" >&2
fi
