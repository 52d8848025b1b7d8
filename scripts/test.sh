#!/usr/bin/env bash
# The one command that checks everything: formatting, clippy (warnings are errors), the whole test suite.
# Needs: the Rust toolchain and git. `.ci/run` installs what a fresh machine lacks, then calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
