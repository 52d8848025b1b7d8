#!/usr/bin/env bash
# The one command that checks everything: formatting, clippy (warnings are errors), the whole test suite.
# Needs: the Rust toolchain, git, node 20.19+ with npm (the web UI's build, which cargo runs
# through crates/clauderon-daemon/build.rs; the real agent CLIs the proxy tests drive;
# playwright-core for the browser tests), and Chromium at /usr/bin/chromium.
# `.ci/run` installs what a fresh machine lacks, then calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== agent CLIs (pinned, cached outside the repo)"
agent_clis=$(bash scripts/install-agent-clis.sh)
eval "$agent_clis"
export CLAUDERON_TEST_CLAUDE_BIN

echo "== browser tests: playwright-core in tests/browser (pinned; drives /usr/bin/chromium, no browser download)"
bash scripts/install-browser-deps.sh

echo "== web UI: npm ci when its lock changed, API types current with the OpenAPI document, Vitest"
bash scripts/web-check.sh

echo "== zellij (the cached build of scripts/install-zellij.sh, when it is not on PATH)"
if ! command -v zellij >/dev/null 2>&1 && [ -x "$HOME/.cache/clauderon/zellij/bin/zellij" ]; then
  export PATH="$HOME/.cache/clauderon/zellij/bin:$PATH"
fi
command -v zellij >/dev/null 2>&1 || echo "zellij is missing: the Zellij backend's tests will fail (bash scripts/install-zellij.sh)" >&2

echo "== Docker test base image (cached by tag)"
if docker info >/dev/null 2>&1; then
  bash scripts/docker-test-image.sh
else
  echo "Docker is not running: the Docker backend's tests will fail (start it: scripts/start-dockerd.sh)" >&2
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo doc (warnings are errors: broken and private links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

echo "== module circles (none allowed)"
python3 scripts/module-circles.py

echo "== cargo deny: licenses, banned and duplicate crates, sources (offline; see deny.toml)"
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny 0.20.2" ]; then
  echo "installing cargo-deny 0.20.2 into ~/.cargo/bin (once; a few minutes)" >&2
  cargo install --locked cargo-deny --version 0.20.2 --quiet >&2
fi
# deny reads the metadata of every target's dependencies (Windows ones too), which a build on
# Linux never downloads: fetch them first (from crates.io, through cargo; a no-op when cached).
cargo fetch --locked --quiet
cargo deny --offline --log-level error check licenses bans sources

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
