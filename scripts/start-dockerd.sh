#!/usr/bin/env bash
# Start the Docker engine when it is not running (CI machines without systemd): dockerd in the
# background, logging to /var/log/clauderon-dockerd.log, and wait for its socket to answer.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd is missing: apt-get install docker.io" >&2
  exit 1
fi
log=/var/log/clauderon-dockerd.log
echo "starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; its log:" >&2
tail -20 "$log" >&2
exit 1
