#!/usr/bin/env bash
# `memprof bench` on the CPU backend with a small random model: the report's lines and
# numbers are there and sane; bad options are usage errors; a GPU bench without a GPU fails
# with one line (and is reported as skipped here, not passed).
set -u
MEMPROF=${MEMPROF:-build/memprof}
out=$(mktemp); trap 'rm -f "$out"' EXIT
if "$MEMPROF" bench --size 14m --random-weights --backend cpu --sequences 2 --length 96 --repeats 2 --threads 2 >"$out" 2>&1; then
    echo "PASS bench: cpu run"
    grep -Eq '^  tokens/s: [1-9][0-9]* \(median of 2 runs' "$out" && echo "PASS bench: tokens/s line" || echo "FAIL bench: tokens/s line: $(cat "$out")"
    grep -q 'GFLOP/token: 0.018' "$out" && echo "PASS bench: FLOPs model for 14m" || echo "FAIL bench: FLOPs model: $(cat "$out")"
    grep -q 'host peak RSS' "$out" && echo "PASS bench: memory line" || echo "FAIL bench: memory line"
else
    echo "FAIL bench: cpu run: $(cat "$out")"
fi
"$MEMPROF" bench --size 13b --random-weights --backend cpu >"$out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "unknown Pythia size '13b'" "$out" && echo "PASS bench: unknown size" || echo "FAIL bench: unknown size: rc $rc $(cat "$out")"
"$MEMPROF" bench --size 14m >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bench: --random-weights required" || echo "FAIL bench: --random-weights required: rc $rc"
"$MEMPROF" bench --size 14m --random-weights --precision fp8 >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bench: bad precision" || echo "FAIL bench: bad precision: rc $rc"
if "$MEMPROF" bench --size 14m --random-weights --backend cuda --sequences 1 --length 64 --repeats 1 >"$out" 2>&1; then
    echo "PASS bench: cuda run"
elif grep -q "no CUDA device" "$out"; then
    echo "SKIP bench: cuda run: no GPU here"
elif grep -q "no backend named 'cuda'" "$out"; then
    echo "SKIP bench: cuda run: built without CUDA"
else
    echo "FAIL bench: cuda run: $(cat "$out")"
fi
exit 0
