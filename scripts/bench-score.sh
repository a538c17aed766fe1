#!/usr/bin/env bash
# CPU scoring benchmark (a command, not a test): `memprof score` on a Pythia-70m-shaped model
# with random weights, 2049-token sequences, all four statistics over V = 50304, next to
# OpenBLAS sgemm at the same model's GEMM shapes measured in the same run.
#
# usage: scripts/bench-score.sh [SEQUENCES=4] [THREADS=2] [REPEATS=3]
# FLOPs model (performance.md): 2·N_nonembedding + 2·d·V + 2·L·d·T per token = 0.102 GFLOP for 70m.
set -euo pipefail
cd "$(dirname "$0")/.."
sequences=${1:-4}; threads=${2:-2}; repeats=${3:-3}
BUILD=${BUILD:-build}
bench=$BUILD/bench; mkdir -p "$bench"
model=$bench/pythia-70m-random
[ -f "$model/model.safetensors" ] || python3 scripts/make-random-checkpoint.py --size 70m --out "$model" --seed 7
python3 -c "
import numpy as np
rng = np.random.default_rng(11)
for _ in range($sequences):
    print(' '.join(map(str, rng.integers(0, 50277, 2049))))
" >"$bench/tokens.txt"
cc -O2 -o "$bench/bench_sgemm" scripts/bench_sgemm.c $(pkg-config --cflags --libs openblas)

echo "== OpenBLAS sgemm at pythia-70m shapes, $threads threads"
"$bench/bench_sgemm" 2049 512 2048 50304 6 "$threads" 5 | tee "$bench/sgemm.txt"
sgemm=$(awk '/combined/ {print $(NF-1)}' "$bench/sgemm.txt")

echo "== memprof score: $sequences x 2049 tokens, $threads threads, $repeats runs"
times=()
for _ in $(seq "$repeats"); do
    start=$(date +%s.%N)
    "$BUILD/memprof" score --checkpoint "$model" --tokens "$bench/tokens.txt" --threads "$threads" >"$bench/score.csv"
    end=$(date +%s.%N)
    times+=("$(awk -v a="$end" -v b="$start" 'BEGIN { print a - b }')")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
python3 - "$median" "$sequences" "$sgemm" "${times[@]}" <<'PY'
import sys
median, sequences, sgemm = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
L, d, ff, V, T = 6, 512, 2048, 50304, 2048
non_embedding = L * (4 * d + 3 * d * d + 3 * d + d * d + d + ff * d + ff + d * ff + d) + 2 * d
gflop_per_token = (2 * non_embedding + 2 * d * V + 2 * L * d * T) / 1e9
tokens = sequences * 2049
rate = tokens / median
print(f"runs (s): {' '.join(f'{float(t):.2f}' for t in sys.argv[4:])}; median {median:.2f} s (includes loading the checkpoint)")
print(f"memprof score: {rate:,.0f} tokens/s, {rate * gflop_per_token:.1f} GFLOP/s ({gflop_per_token:.3f} GFLOP/token)")
print(f"ratio to the sgemm rate: {rate * gflop_per_token / sgemm:.0%}")
PY
