#!/bin/sh
# An attack on the host's sockets and files, run as a session's own process: connect to every
# Unix socket it is given or can find, read every file it is given. Writes one line per place to
# OUT: `<path> connected|refused|absent|read|unreadable`, then `done`. The host test gives it the
# paths of listeners and secret files it made itself (and the well-known host sockets), so it
# can check both what the session reported and what its listeners saw.
#
# Usage: reach_host.sh OUT ALLOWED_SOCKET PATH...   (ALLOWED_SOCKET: the proxy's, or "-")
out=$1
allowed=$2
shift 2
: > "$out"
try_socket() {
  curl -s --max-time 2 --unix-socket "$1" http://clauderon-escape/ -o /dev/null 2>/dev/null
  case $? in
    7) echo "$1 refused" ;;
    *) echo "$1 connected" ;;
  esac
}
for p in "$@"; do
  if [ -S "$p" ]; then
    try_socket "$p"
  elif [ -e "$p" ]; then
    if cat "$p" > /dev/null 2>&1; then echo "$p read"; else echo "$p unreadable"; fi
  else
    echo "$p absent"
  fi >> "$out"
done
# Every socket file it can find, but the way to the proxy it was given (not on the host: a
# control run there has nothing to prove by scanning).
# Where sockets live (system and user runtime folders, temporary folders, HOMEs, the session's
# own places); toolchains and package trees are skipped, they only make the scan slow.
[ -n "$CLAUDERON_REACH_NO_SCAN" ] || find /run /var /tmp /dev/shm /home /root /etc /opt /srv /mnt "$HOME" "$(pwd)" \
  \( -name .rustup -o -name .pyenv -o -name registry -o -name node_modules -o -name objects \) -prune \
  -o -type s -print 2>/dev/null | sort -u |
  while read -r s; do
    case "$s" in "$allowed"*) continue ;; esac
    try_socket "$s" | sed 's/^/found /' >> "$out"
  done
# Abstract sockets of the network namespace it is in.
echo "abstract $(grep -c ' @' /proc/net/unix 2>/dev/null || echo 0)" >> "$out"
echo done >> "$out"
