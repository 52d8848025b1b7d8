#!/usr/bin/env bash
# Zellij for the zellij backend and its tests: not a Debian package, so built with cargo (about
# 12 minutes on two cores) into a cache outside the repository, once. Prints the bin folder to
# put on PATH. Skips the build when zellij is on PATH or already cached.
set -euo pipefail
root="${CLAUDERON_ZELLIJ_ROOT:-$HOME/.cache/clauderon/zellij}"
version="${CLAUDERON_ZELLIJ_VERSION:-0.45.1}"
if [ -x "$root/bin/zellij" ]; then
  echo "$root/bin"
  exit 0
fi
if command -v zellij >/dev/null 2>&1; then
  dirname "$(command -v zellij)"
  exit 0
fi
echo "building zellij $version into $root (about 12 minutes, once)" >&2
cargo install --locked --quiet zellij --version "$version" --root "$root" >&2
echo "$root/bin"
