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

# The versions the lock pins (playwright-core, axe-core), and the ones installed (empty when none).
versions() {
  node -e 'const read = (m) => { try { return require(m) } catch { return null } };
    const lock = require("./package-lock.json").packages;
    const which = process.argv[1];
    console.log(["playwright-core", "axe-core"].map((p) => which === "locked"
      ? lock["node_modules/" + p].version
      : (read("./node_modules/" + p + "/package.json") || {}).version || "").join(" "))' "$1"
}
locked=$(versions locked)
installed=$(versions installed)
if [ "$installed" = "$locked" ]; then
  echo "install-browser-deps: playwright-core and axe-core ($locked) already in tests/browser/node_modules" >&2
else
  echo "install-browser-deps: npm ci in tests/browser (playwright-core and axe-core: $locked)" >&2
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces, playwright-core has no install hook.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
fi

chromium="${CLAUDERON_TEST_CHROMIUM:-/usr/bin/chromium}"
if ! [ -x "$chromium" ]; then
  echo "install-browser-deps: Chromium is missing ($chromium): the browser tests will fail." >&2
  echo "  Install it with: apt-get install -y chromium (.ci/run does)" >&2
fi
