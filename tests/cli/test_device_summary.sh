#!/usr/bin/env bash
# scripts/device-summary.py on a GPU call's logs written here in the formats memprof bench,
# device-check.sh and device-large.sh print (records with and without the kernels and
# settings lines, labels of both scripts, step profiles with and without the logger's
# prefix, a bench under Nsight Compute, one log repeating another): each table cell against
# the ratio computed here with awk from the same numbers.
set -u
if ! command -v python3 >/dev/null; then echo "SKIP device summary: no python3"; exit 0; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/call/check" "$work/call/large"
record() {  # usage: [RUNS="SECONDS…"] record SIZE PRECISION SEQUENCES TOKENS [EXTRA-FIRST-LINE]; more lines on stdin
    echo "bench $1 on cuda ($2): $3 sequences x 2049 tokens, batch planned${5:-}"
    echo "  tokens/s: $4 (median of 3 runs, 0.100 s each; min 0.099, max 0.101)"
    if [ -n "${RUNS:-}" ]; then echo "  run seconds: $RUNS"; fi
    echo "  memory: device 13.88 GiB held by the backend, host peak RSS 0.75 GiB"
    cat
}
# Run times (`run seconds:`): a variant faster in every run, one slower with ties among the runs,
# BASE overlapping the default; each verdict's p against scipy's permutation test of the same U.
default_runs="0.0370 0.0371 0.0372 0.0369 0.0373"
joined_runs="0.0360 0.0361 0.0362 0.0359 0.0363"
rotary_runs="0.0373 0.0374 0.0374 0.0376 0.0377"
base_runs="0.0371 0.0369 0.0374 0.0372 0.0370"
{
    echo "-- 70m fp16, auto LM head, auto attention, auto up GEMM, auto residual GEMM, auto statistics SMs, auto rotary"
    RUNS="$default_runs" record 70m fp16 64 3500000 <<'EOF'
  gpu: SM clock median 1785 MHz (min 1770, max 1800), power median 223.00 W (max 260.00), up to 50 C, 4 busy samples
  kernels: attention wgmma-tma, LM head fused-wgmma, up GEMM cublaslt, residual GEMM cublaslt, rotary pass
  settings: none
EOF
    echo "-- 70m fp16, auto LM head, auto attention, baseline binary build-carry/base/memprof"
    RUNS="$base_runs" record 70m fp16 64 3400000 </dev/null
    echo "-- 70m bf16, auto LM head, auto attention, auto up GEMM, auto residual GEMM, auto statistics SMs, auto rotary"
    RUNS="0.0300 0.0301 0.0299" record 70m bf16 64 3580000 </dev/null
    echo "-- 70m fp16, auto LM head, auto attention, auto up GEMM, joined residual GEMM, auto statistics SMs, auto rotary"
    RUNS="$joined_runs" record 70m fp16 64 3600000 <<'EOF'
  kernels: attention wgmma-tma, LM head fused-wgmma, up GEMM cublaslt, residual GEMM joined, rotary pass
  settings: MEMPROF_RESIDUAL_GEMM=joined
EOF
    RUNS="$rotary_runs" record 70m fp16 64 3450000 <<<"  settings: MEMPROF_ROTARY=attention"
    # A label of an older device-check.sh, no settings line: what the label names.
    echo "-- 70m fp16, fused-pingpong LM head, auto attention, auto up GEMM, auto residual GEMM"
    record 70m fp16 64 3300000 </dev/null
    echo "-- 410m fp16, default kernels, MEMPROF_CUDA_PROFILE=1"
    echo "2026-11-29T01:00:00Z warn: cuda profile (24 layers, hidden 1024; attention wgmma-tma, LM head chunked): 400.0 ms of GPU time in 2 forward batch(es) after the first"
    echo "2026-11-29T01:00:00Z warn:   flash attention      100.00 ms   25.0%  48 calls"
    echo "2026-11-29T01:00:00Z warn:   up gemm              300.00 ms   75.0%  48 calls"
    record 410m fp16 64 540000 </dev/null
    echo "-- 410m fp16, auto LM head, auto attention, auto up GEMM, auto residual GEMM, auto statistics SMs, auto rotary"
    record 410m fp16 64 550000 <<<"  settings: none"
} >"$work/call/check/bench.txt"
# device-check.sh's log repeats bench.txt (tee): each record counts once.
{ echo "== memprof bench [300 s left]"; cat "$work/call/check/bench.txt"; } >"$work/call/check/device-check.log"
{
    echo "== large sizes, fp16, each also with build-carry/base/memprof [300 s left]"
    echo "cuda profile (24 layers, hidden 2048; attention wgmma-tma): 1000.0 ms of GPU time in 3 forward batch(es) after the first"
    echo "  qkv gemm            250.00 ms   25.0%  72 calls"
    echo "  up gemm             750.00 ms   75.0%  72 calls"
    record 1.4b fp16 32 195000 </dev/null
    echo "  (rc 0, 3 s)"
    echo "-- the same with the baseline binary build-carry/base/memprof"
    echo "cuda profile (24 layers, hidden 2048; attention wgmma-tma): 1010.0 ms of GPU time in 3 forward batch(es) after the first"
    echo "  qkv gemm            260.00 ms   25.7%  72 calls"
    echo "  up gemm             750.00 ms   74.3%  72 calls"
    record 1.4b fp16 32 193000 </dev/null
    record 2.8b fp16 32 97000 </dev/null  # the next size's default: the label above named one bench only
    echo "== 12b on 64 sequences: uncapped, then under --max-gpu-memory 40 [269 s left]"
    record 12b fp16 64 25700 </dev/null
    record 12b fp16 64 25900 ", at most 40 GB of GPU memory" </dev/null
    echo "== ncu: attention and GEMMs of one 1.4b batch [113 s left]"
    record 1.4b fp16 4 186527 </dev/null
} >"$work/call/large/large.log"
cat >"$work/call/check/hf.json" <<'EOF'
[{"size": "70m", "batch": 44, "statistics_tokens_per_s": 600000.0},
 {"size": "410m", "batch": 40, "statistics_tokens_per_s": 200000.0}]
EOF
summary=$work/summary.md
if ! python3 scripts/device-summary.py "$work/call" >"$summary" 2>"$work/err"; then
    echo "FAIL device summary: run: $(cat "$work/err")"; exit 0
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
p_value() {  # usage: p_value "RUNS" "REFERENCE-RUNS" DIGITS: scipy's exact permutation test of Mann-Whitney's U
    python3 - "$1" "$2" "$3" <<'PY'
import sys
import numpy as np
from scipy.stats import mannwhitneyu, permutation_test
x, y = ([float(t) for t in a.split()] for a in sys.argv[1:3])
test = permutation_test((x, y), lambda a, b: mannwhitneyu(a, b, method="asymptotic").statistic,
                        permutation_type="independent", alternative="two-sided", n_resamples=np.inf)
print(f"{test.pvalue:.{sys.argv[3]}f}".replace(".", "\\."))
PY
}
row() {  # usage: row NAME REGEX: PASS when a line of the summary matches
    if grep -Eq -- "$2" "$summary"; then echo "PASS device summary: $1"; else echo "FAIL device summary: $1: no line /$2/ in $(cat "$summary")"; fi
}
row "default fp16 at 70m, ÷ target, clock" "^\| 70m \| fp16 \| new \| default \| 3,500,000 \| 1\.000 \|  \| $(ratio 3500000 3500000) \| 1785 MHz, 223 W \|$"
row "the joined GEMM against the default (settings line)" "^\| 70m \| fp16 \| new \| residual_gemm=joined \| 3,600,000 \| $(ratio 3600000 3500000) \| faster \(p $(p_value "$joined_runs" "$default_runs" 3)\) \| $(ratio 3600000 3500000) \| +\|$"
row "a variant named by an older label" "^\| 70m \| fp16 \| new \| lm_head=fused-pingpong \| 3,300,000 \| $(ratio 3300000 3500000) \|  \| "
row "the BASE binary against the default" "^\| 70m \| fp16 \| BASE \| default \| 3,400,000 \| $(ratio 3400000 3500000) \| no difference shown \(p $(p_value "$base_runs" "$default_runs" 2)\) \| "
row "bf16 against its own default" "^\| 70m \| bf16 \| new \| default \| 3,580,000 \| 1\.000 \|  \| $(ratio 3580000 3500000) \| "
row "a profiled run apart from the unprofiled default" "^\| 410m \| fp16 \| new \| default \(profiled\) \| 540,000 \| 1\.000 \|  \| $(ratio 540000 650000) \| "
row "large sizes: the sequence count, BASE against the profiled default" "^\| 1\.4b \| fp16 \| BASE \| default, 32 sequences \(profiled\) \| 193,000 \| $(ratio 193000 195000) \|  \| $(ratio 193000 220000) \| "
row "a bench after a BASE run, without a label of its own" "^\| 2\.8b \| fp16 \| new \| default, 32 sequences \| 97,000 \| 1\.000 \| "
row "12b under a cap against uncapped" "^\| 12b \| fp16 \| new \| default, at most 40 GB \| 25,900 \| $(ratio 25900 25700) \|  \| $(ratio 25900 26500) \| "
row "HF within 10% of the table counts" "^\| 70m \| 600,000 \| $(ratio 600000 571351) \| yes \| $(awk 'BEGIN { printf "%.2f", 3500000 / 600000 }')× \| $(awk 'BEGIN { printf "%.2f", 3500000 / 571351 }')× \|$"
row "HF outside 10% of the table does not" "^\| 410m \| 200,000 \| $(ratio 200000 262922) \| no \| $(awk 'BEGIN { printf "%.2f", 550000 / 200000 }')× \| "
row "a variant slower in its runs, ties among them" "^\| 70m \| fp16 \| new \| rotary=attention \| 3,450,000 \| $(ratio 3450000 3500000) \| slower \(p $(p_value "$rotary_runs" "$default_runs" 3)\) \| "
row "profile steps with the logger's prefix" "^\| up gemm \| 300\.00 \(75\.0%\) \|$"
row "profile steps of device-large.sh, BASE beside the new" "^\| qkv gemm \| 250\.00 \(25\.0%\) \| 260\.00 \(25\.7%\) \|$"
[ "$(grep -c '^| 70m | fp16 | new | default |' "$summary")" -eq 1 ] && echo "PASS device summary: a repeated log counts once" ||
    echo "FAIL device summary: a repeated log counts once: $(cat "$summary")"
grep -q "186,527" "$summary" && echo "FAIL device summary: a bench under Nsight Compute counted" ||
    echo "PASS device summary: a bench under Nsight Compute left out"
# Bad input: one line naming the file, non-zero exit.
python3 scripts/device-summary.py "$work/missing.txt" >"$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$work/out")" -eq 1 ] && grep -q "missing.txt: no such file" "$work/out" &&
    echo "PASS device summary: a missing file, one line" || echo "FAIL device summary: a missing file: rc $rc $(cat "$work/out")"
echo '[{"size": "70m", ' >"$work/broken.json"
python3 scripts/device-summary.py "$work/broken.json" >"$work/out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$work/out")" -eq 1 ] && grep -q "broken.json" "$work/out" &&
    echo "PASS device summary: a broken HF JSON, one line" || echo "FAIL device summary: a broken HF JSON: rc $rc $(cat "$work/out")"
exit 0
