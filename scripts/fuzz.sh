#!/usr/bin/env bash
# Run every fuzz target in fuzz/ for SECONDS each (default 600), one after another, and print
# a summary. Exits non-zero if any target crashed or hung. Not run by CI: it takes long.
# Needs the nightly toolchain; installs cargo-fuzz from crates.io if it is missing.
set -uo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked || exit 1
fi
cargo +nightly fuzz build -O || exit 1

mkdir -p logs
failed=0
summary=()
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    [ -d "seeds/$target" ] && cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null
    log="logs/$target.log"
    echo "== $target for ${seconds}s (log: fuzz/$log)"
    # -timeout: one input taking over 10 s counts as a hang (a crash for the summary). One
    # process, no -jobs: libFuzzer's -jobs sends the output to ./fuzz-N.log instead of $log.
    cargo +nightly fuzz run -O "$target" -- -max_total_time="$seconds" -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    crashes="$(ls "artifacts/$target" 2>/dev/null | grep -c -E '^(crash|timeout|oom|leak)-' || true)"
    if [ "$rc" -ne 0 ]; then
        failed=1
    fi
    summary+=("$(printf '%-20s runs=%-12s crashes=%-3s exit=%s' "$target" "${runs:-?}" "$crashes" "$rc")")
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
