#!/usr/bin/env bash
# Runs every test executable and shell test; each prints lines "PASS name",
# "FAIL name: why" or "SKIP name: why". A test that exits non-zero without a FAIL
# line counts as one failure. Ends with "N passed, N failed, N skipped".
set -u
BUILD=${BUILD:-build}
export BUILD MEMPROF="$BUILD/memprof"
passed=0; failed=0; skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

run_one() {  # label, command...
    local label=$1; shift
    local start=$SECONDS
    "$@" >"$log" 2>&1; local rc=$?
    local p f s
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    grep -E '^(FAIL|SKIP) ' "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $label: exited with status $rc"; tail -n 15 "$log" | sed 's/^/    /'; f=1
    elif [ "$f" -gt 0 ]; then
        tail -n 15 "$log" | grep -v '^PASS ' | sed 's/^/    /'
    fi
    echo "$label: $p passed, $f failed, $s skipped ($((SECONDS - start)) s)"  # the seconds: what CI's 90 minutes go to
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
# The kernels' emulated tests again with the block's threads resumed last to first
# (tests/emulator: a shared-memory read that misses its barrier shows in one order or the other).
for t in "$BUILD"/tests/test_cuda_*_emulated; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t") (threads in reverse order)" env MEMPROF_EMULATOR_ORDER=reverse "$t"
done
# The paths of GPUs without Hopper's instructions or its shared memory (tests/emulator,
# MEMPROF_EMULATED_DEVICE): the attention kernels on a compute capability 8.9 card's 99 KB per
# block (32-key tiles at head dims 128 and 256), and the backend end to end as an A100 would
# run it (mma attention, the chunked and mma fused heads; the Hopper settings refused).
if [ -x "$BUILD"/tests/test_cuda_attention_emulated ]; then
    run_one "test_cuda_attention_emulated (as an L40S)" env MEMPROF_EMULATED_DEVICE=l40s \
        "$BUILD"/tests/test_cuda_attention_emulated
fi
if [ -x "$BUILD"/tests/test_backend_conformance_emulated ]; then
    run_one "test_backend_conformance_emulated (as an A100)" env MEMPROF_EMULATED_DEVICE=a100 \
        "$BUILD"/tests/test_backend_conformance_emulated
fi
for r in "$BUILD"/tests/replay_*; do
    [ -x "$r" ] || continue
    target=${r##*/replay_}
    run_one "replay $target" "$r" tests/fuzz/corpus/"$target"
done
for s in tests/cli/test_*.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" bash "$s"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
