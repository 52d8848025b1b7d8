#!/usr/bin/env bash
# Benchmarks of the release build; prints the tables that BENCHMARKS.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p clauderon -p clauderon-bench
echo "== session store at scale"
./target/release/clauderon-bench "$@"
echo
echo "== credential proxy: direct vs through the proxy"
./target/release/proxy-bench
if command -v taskset >/dev/null 2>&1; then
  echo
  echo "== credential proxy, the daemon pinned to its own core"
  taskset -c 0 ./target/release/proxy-bench --pin
  echo
  echo "== credential proxy beside nginx and mitmproxy, each proxy pinned to its own core"
  bash scripts/bench-peers-setup.sh
  ./target/release/proxy-bench --peers
fi
echo
echo "== credential proxy: thousands of identities and idle connections"
./target/release/proxy-bench --scale
echo
echo "== credential proxy: soak, 100,000 requests at c=256"
./target/release/proxy-bench --soak
if docker info >/dev/null 2>&1; then
  echo
  echo "== Docker sessions: create to running vs plain docker run"
  bash scripts/docker-test-image.sh
  cargo run --release --locked -q -p clauderon-docker --example docker_create_bench -- 10
fi
zellij_bin="$HOME/.cache/clauderon/zellij/bin"   # where scripts/install-zellij.sh puts it
if command -v zellij >/dev/null 2>&1 || [ -x "$zellij_bin/zellij" ]; then
  echo
  echo "== Zellij sessions: create to running, sandboxed and not, vs plain zellij"
  PATH="$zellij_bin:$PATH" cargo run --release --locked -q -p clauderon-zellij --example zellij_create_bench -- 20 \
    --relay target/release/clauderon
fi
