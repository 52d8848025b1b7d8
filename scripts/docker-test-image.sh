#!/usr/bin/env bash
# Build the Debian base image the Docker tests use, without a registry: debootstrap a minimal
# bookworm and `docker import` it. Cached by tag: does nothing when the image exists.
# Usage: scripts/docker-test-image.sh [TAG]   (default clauderon-test-base:bookworm-2)
# The tag changes when the package list does (bookworm-2: socat, for locked networks).
set -euo pipefail
tag="${1:-${CLAUDERON_TEST_BASE_IMAGE:-clauderon-test-base:bookworm-2}}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "debootstrap is missing: apt-get install debootstrap" >&2
  exit 1
}
dir="$(mktemp -d /tmp/clauderon-rootfs.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
echo "building $tag with debootstrap (about 35 s)..." >&2
debootstrap --variant=minbase --include=ca-certificates,curl,git,socat bookworm "$dir" >"$dir.log" 2>&1 || {
  tail -20 "$dir.log" >&2
  exit 1
}
rm -f "$dir.log"
tar -C "$dir" -c . | docker import -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "built $tag" >&2
