#!/usr/bin/env bash
# Installs the proxies `proxy-bench --peers` compares clauderon with: nginx (Debian package)
# and mitmproxy (PyPI, in a venv under ~/.cache/clauderon/bench-venv). A peer that cannot be
# installed is reported here and skipped by the bench, which says why.
set -uo pipefail
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q nginx >/dev/null || echo "nginx could not be installed with apt-get" >&2
  else
    echo "nginx is missing: install it with 'sudo apt-get install nginx'" >&2
  fi
fi
# mitmproxy 11.0.2 is the last release that supports Python 3.11 (12.x needs 3.12).
venv="$HOME/.cache/clauderon/bench-venv"
if [ ! -x "$venv/bin/mitmdump" ]; then
  mkdir -p "$(dirname "$venv")"
  if python3 -m venv "$venv"; then
    "$venv/bin/pip" install -q "mitmproxy==11.0.2" || echo "mitmproxy could not be installed with pip" >&2
  else
    echo "python3 -m venv failed (install python3-venv): mitmproxy is skipped" >&2
  fi
fi
