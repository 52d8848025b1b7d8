#!/bin/sh
# An attack on the daemon's API, run as a session's own process: every URL it is given is called
# directly (no proxy) and through the session's own proxy (its environment's HTTPS_PROXY /
# http_proxy), as a read (GET), a create of an unsandboxed session (POST) and a switch of its own
# access mode to read-write (PUT). One line per try in OUT: `<direct|proxy> <METHOD> <url>
# <http code>` (000: no answer), then `done`.
#
# Usage: reach_api.sh OUT SESSION_NAME URL...   (URLs: base URLs such as http://127.0.0.1:3030)
out=$1
name=$2
shift 2
: > "$out"
create='{"repo_path":"/","name":"escaped","backend":"zellij","options":{"command":"id","sandbox":"off"}}'
try() {
  # try MODE METHOD URL [DATA]
  mode=$1 method=$2 url=$3 data=$4
  set -- -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$method"
  if [ "$mode" = direct ]; then
    set -- "$@" --noproxy '*'
  else
    # Through the proxy even for loopback names, which the session's NO_PROXY would exempt.
    set -- "$@" --proxy "${http_proxy:-$HTTPS_PROXY}" --noproxy ''
  fi
  [ -n "$data" ] && set -- "$@" -H 'content-type: application/json' --data "$data"
  code=$(curl "$@" "$url" 2>/dev/null)
  echo "$mode $method $url ${code:-000}" >> "$out"
}
for base in "$@"; do
  for mode in direct proxy; do
    try "$mode" GET "$base/api/sessions"
    try "$mode" GET "$base/api/health"
    try "$mode" POST "$base/api/sessions" "$create"
    try "$mode" PUT "$base/api/sessions/$name/access-mode" '{"mode":"read-write"}'
    try "$mode" POST "$base/api/sessions/$name/stop"
  done
done
echo done >> "$out"
