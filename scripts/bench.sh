#!/usr/bin/env bash
# Benchmarks of the release build; prints the tables that BENCHMARKS.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p clauderon -p clauderon-bench
./target/release/clauderon-bench "$@"
