#!/usr/bin/env bash
# The web UI's own checks (scripts/test.sh runs this): its dependencies installed from the lock
# (`npm ci`, only when node_modules is older than the lock), the TypeScript API types current
# with the committed OpenAPI document (the Rust test `openapi_document` keeps that document
# current with the daemon), and the Vitest unit tests.
# Needs: node 20.19 or later with npm, and the npm registry the first time.
set -euo pipefail
cd "$(dirname "$0")/../web"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "web-check: $tool is missing: the web UI builds with Vite under node." >&2
    echo "  Install node 20.19 or later with npm (https://nodejs.org, or NodeSource on Debian 12)." >&2
    exit 1
  fi
done

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web-check: npm ci in web/" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# The generated types must be what openapi-typescript makes of the committed document today.
fresh=$(mktemp --suffix=.ts)
trap 'rm -f "$fresh"' EXIT
npx --no-install openapi-typescript src/api/openapi.json -o "$fresh" --silent >/dev/null 2>&1 ||
  npx --no-install openapi-typescript src/api/openapi.json -o "$fresh"
if ! diff -q src/api/schema.ts "$fresh" >/dev/null; then
  echo "web-check: web/src/api/schema.ts is stale: run \`npm run gen:api\` in web/ and commit it" >&2
  diff -u src/api/schema.ts "$fresh" | head -40 >&2
  exit 1
fi
echo "web-check: API types current with src/api/openapi.json" >&2

npx --no-install vitest run
