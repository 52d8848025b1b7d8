#!/usr/bin/env bash
# Run the fuzz targets in fuzz/ for SECONDS each (default 600), one after another, and print a
# summary: executions, executions per second, crashes. Exits non-zero if any target crashed or
# hung. Not run by CI: it takes long.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (no TARGET: every target)
#
# Needs the nightly toolchain; installs cargo-fuzz from crates.io if it is missing. One process
# per target, no -jobs: libFuzzer's -jobs sends the output to ./fuzz-N.log instead of the log.
set -uo pipefail

seconds="${1:-600}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked || exit 1
fi
cargo +nightly fuzz build -O || exit 1

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

mkdir -p logs
failed=0
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    [ -d "seeds/$target" ] && cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null
    log="logs/$target.log"
    before="$(ls "artifacts/$target" | grep -c -E '^(crash|timeout|oom|leak)-')"
    # Temporary files (the daemon target's data folder and git repository) go in a folder of
    # their own, outside any checkout, removed afterwards.
    scratch="$(mktemp -d "${TMPDIR:-/tmp}/clauderon-fuzz-$target.XXXXXX")"
    echo "== $target for ${seconds}s (log: fuzz/$log)"
    # -timeout: one input taking over 10 s counts as a hang (a crash for the summary).
    TMPDIR="$scratch" cargo +nightly fuzz run -O "$target" -- -max_total_time="$seconds" -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    rm -rf "$scratch"
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    time="$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1)"
    rate="?"
    if [ -n "${runs:-}" ] && [ -n "${time:-}" ] && [ "$time" -gt 0 ]; then
        rate=$((runs / time))
    fi
    after="$(ls "artifacts/$target" | grep -c -E '^(crash|timeout|oom|leak)-')"
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
    fi
    summary+=("$(printf '%-16s seconds=%-5s runs=%-11s exec/s=%-7s crashes=%-3s exit=%s' \
        "$target" "${time:-?}" "${runs:-?}" "$rate" "$crashes" "$rc")")
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
