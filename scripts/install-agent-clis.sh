#!/usr/bin/env bash
# Installs the real agent CLIs the tests drive through the proxy, at pinned versions, into a
# cache outside the repo, and prints where each binary is as `NAME=PATH` lines that a shell can
# source (`eval "$(bash scripts/install-agent-clis.sh)"`). Progress goes to stderr.
# An install that is already in the cache is not repeated.
#
# Needs: node and npm, and the npm registry. Node 20 works: Claude Code asks for node 22, but
# what runs is its native binary, which npm takes from a platform-specific optional dependency.
# Cache: ${CLAUDERON_AGENT_CACHE:-$HOME/.cache/clauderon/agent-clis}/<package>-<version>
set -euo pipefail

# Bump deliberately: the tests pin what the proxy must work with.
CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0
GEMINI_CLI_VERSION=0.61.0

cache_root="${CLAUDERON_AGENT_CACHE:-$HOME/.cache/clauderon/agent-clis}"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-agent-clis: $tool is missing: the real agent CLIs the tests drive install with npm." >&2
    echo "  Install node 20 or later with npm (https://nodejs.org, or on Debian: apt-get install -y nodejs npm)," >&2
    echo "  then run scripts/install-agent-clis.sh again." >&2
    exit 1
  fi
done

# install_npm NAME PACKAGE VERSION BIN: installs PACKAGE@VERSION into its own folder in the
# cache unless BIN is already there, then prints NAME=<path of BIN>.
install_npm() {
  local name=$1 package=$2 version=$3 bin=$4
  local dir="$cache_root/${package#*/}-$version"
  local path="$dir/node_modules/.bin/$bin"
  if [ -x "$path" ] && "$path" --version >/dev/null 2>&1; then
    echo "install-agent-clis: $package@$version already in $dir" >&2
  else
    echo "install-agent-clis: installing $package@$version into $dir" >&2
    mkdir -p "$cache_root"
    # Install beside the target and move it into place at the end, so an interrupted install
    # never leaves a folder that looks complete.
    local tmp
    tmp=$(mktemp -d "$cache_root/.installing-XXXXXX")
    chmod 755 "$tmp"
    # A cache of our own: the shared npm cache may hold an older version of the package.
    # --include=optional: the native binary comes from a platform-specific optional dependency.
    if ! npm install --prefix "$tmp" --cache "$tmp/.npm-cache" --no-audit --no-fund \
      --include=optional --loglevel=error "$package@$version" >&2; then
      rm -rf "$tmp"
      echo "install-agent-clis: npm install of $package@$version failed (is the npm registry reachable?)" >&2
      exit 1
    fi
    rm -rf "$tmp/.npm-cache" "$dir"
    mv "$tmp" "$dir"
    if ! [ -x "$path" ] || ! "$path" --version >/dev/null 2>&1; then
      echo "install-agent-clis: $package@$version installed but $path does not run" >&2
      exit 1
    fi
  fi
  printf '%s=%q\n' "$name" "$path"
}

install_npm CLAUDERON_TEST_CLAUDE_BIN @anthropic-ai/claude-code "$CLAUDE_CODE_VERSION" claude
install_npm CLAUDERON_TEST_CODEX_BIN @openai/codex "$CODEX_VERSION" codex
# Gemini CLI builds node-pty with node-gyp: needs python3, make and a C++ compiler.
install_npm CLAUDERON_TEST_GEMINI_BIN @google/gemini-cli "$GEMINI_CLI_VERSION" gemini
