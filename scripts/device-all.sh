#!/usr/bin/env bash
# Every GPU check of the CUDA issues in one device call, in priority order, each script with
# its own budget: device-check.sh (attention test, conformance, NCCL, bench 70m–410m next to
# the HF baseline, upload, load), device-large.sh (1.4b–12b, 12b under 40 GB),
# device-numerics.sh (random 1.4b against the float64 reference), then, with LOAD=SECONDS, the
# 24 GB 12b checkpoint's load from local disk (scripts/bench-load.sh 12b --cold). The logs are packed into
# $OUT/results.tgz (the device tool brings back at most 8 files), device-all.log and summary.md
# (scripts/device-summary.py: every bench against the default kernels, BASE, the targets and
# the HF baseline of the call).
# Build and carry as docs/performance.md, "GPU checks", says; timeout_s 600.
#
# usage: BUILD=build-device [SKIP="nccl upload hf"] [CHECK_SIZES=70m,160m,410m] scripts/device-all.sh
#        budgets in seconds: CHECK=240 LARGE=120 NUMERICS=95 (0: none; it needs ~95: checkpoint 23 s,
#        float64 reference 33 s, 25 s kept for the two memprof runs) LOAD=0 (LOAD=120 for the 12b load);
#        CHECK grew from 100 when the fused LM head (two tilings) added 9 benches and its test
#        What the H100 calls of 2026-11-26/27 took: check 71–100 s (its CPU reference 40–51 s
#        before the faster portable GEMM), numerics 63 s, large 107–111 s, the 12b checkpoint's
#        writing 16 s (its cold load did not finish in the 39 s left). On 2026-11-27 (call B,
#        docs/performance.md): check 92 s (three variants with BASE runs), large 179 s (BASE
#        runs at every size, HF 1.4b–12b, NCU_DETAIL=1, three NCU_SIZES), numerics 52 s, the
#        12b cold load 57 s with its checkpoint written: LOAD=80.
set -u
export BUILD=${BUILD:-build}
OUT=${OUT:-out/device}; mkdir -p "$OUT"
here=$(dirname "$0")
{
    BUDGET=${CHECK:-240} OUT=$OUT/check "$here"/device-check.sh "${CHECK_SIZES:-70m,160m,410m}" >/dev/null 2>&1
    grep -v '^tests/fixtures\|^/tmp.*seq [0-3]\|^PASS\|^  memory\|^  setup\|GFLOP/token' "$OUT/check/device-check.log" | cut -c1-200
    if [ -f "$OUT/check/untried-attention" ]; then
        # The attention test timed out: the untried kernels stay out of everything after, and
        # the default (auto: wgmma-tma on Hopper) becomes mma.
        mkdir -p "$OUT/large"; cp "$OUT/check/untried-attention" "$OUT/large/"
        export MEMPROF_ATTENTION=mma; echo "MEMPROF_ATTENTION=mma from here: the attention test timed out"
    fi
    if [ -f "$OUT/check/untried-up-gemm" ]; then  # the layers test timed out or failed: the fused up GEMMs stay out
        mkdir -p "$OUT/large"; cp "$OUT/check/untried-up-gemm" "$OUT/large/"
    fi
    if [ "${LARGE:-120}" -gt 0 ]; then
        BUDGET=${LARGE:-120} OUT=$OUT/large "$here"/device-large.sh >/dev/null 2>&1
        grep -v 'embedding\|final layernorm' "$OUT/large/large.log" | cut -c1-160
    fi
    if [ "${NUMERICS:-95}" -gt 0 ]; then
        BUDGET=${NUMERICS:-95} OUT=$OUT/numerics "$here"/device-numerics.sh 1.4b >/dev/null 2>&1
        grep -v '^PASS' "$OUT/numerics/numerics.log" | cut -c1-200
    fi
    if [ "${LOAD:-0}" -gt 0 ]; then
        echo "== 12b F16 checkpoint (~24 GB): load from local disk, page cache dropped (--cold) [$LOAD s]"
        # memprof through a wrapper that gives it the bundled libraries (python keeps the machine's).
        (budget=$LOAD; . "$here"/device-env.sh; resolve_libs >/dev/null
         wrapper=$(mktemp); trap 'rm -f "$wrapper"' EXIT
         printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$memprof_libs" "$PWD/$BUILD/memprof" >"$wrapper"
         chmod +x "$wrapper"
         MEMPROF=$wrapper timeout "$LOAD" "$here"/bench-load.sh 12b --cold --repeats 1) 2>&1 | tee "$OUT/load-12b.log"
        echo "  (rc ${PIPESTATUS[0]})"
    fi
    # One table of every bench against the default, BASE, the targets and the HF baseline
    # (scripts/device-summary.py), so that the call's verdicts need no reading of its logs.
    echo "== summary"
    python3 "$here"/device-summary.py "$OUT/check" $(ls -d "$OUT/large" 2>/dev/null) | tee "$OUT/summary.md"
} 2>&1 | tee "$OUT/device-all.log"
(cd "$OUT" && tar czf results.tgz check $(ls -d large numerics load-12b.log 2>/dev/null) && rm -rf check numerics large load-12b.log)
