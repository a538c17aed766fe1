#!/usr/bin/env bash
# Estimation benchmarks (commands, not tests; results in docs/performance.md "Estimation").
#   scripts/bench-estimate.sh [RUNS]
# 1. The paper's panel shape from a stats.h5: 16,300 units (143 cohorts x 100 + 2,000 held out),
#    144 checkpoints, never-treated controls, B = 1000, all aggregations, 2 threads, I/O included.
# 2. memprof vs differences 0.2.0 on 2,000 units x 30 periods x 29 cohorts, B = 1000, the same
#    options, both from the same CSV (differences needs DIFFERENCES_PYTHON, see
#    scripts/requirements-differences.txt; it is timed once: it takes minutes).
# Prints each run and the median. Run it when `uptime` shows a low load.
set -eu
RUNS=${1:-5}
MEMPROF=${MEMPROF:-build/memprof}
PY=${DIFFERENCES_PYTHON:-python3}
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'; }

echo "load: $(uptime)"
"$MEMPROF" simulate --cohorts 143 --per-cohort 100 --never 2000 --checkpoints 144 --out-h5 "$work/paper.h5"
echo "== paper shape: memprof estimate paper.h5 --metric sup_seq --bootstrap 1000 --threads 2 (16300 x 144, 143 cohorts)"
for r in $(seq "$RUNS"); do secs "$MEMPROF" estimate "$work/paper.h5" --metric sup_seq --bootstrap 1000 --threads 2 --quiet --out "$work/paper_out"; done | tee "$work/paper.times"
echo "median: $(median < "$work/paper.times") s"

"$MEMPROF" simulate --cohorts 29 --per-cohort 60 --never 260 --checkpoints 30 --out-csv "$work/small.csv"
echo "== 2000 x 30, 29 cohorts: memprof estimate --csv (B = 1000, 2 threads)"
for r in $(seq "$RUNS"); do secs "$MEMPROF" estimate --csv "$work/small.csv" --unit unit --time time --cohort cohort --outcome y \
    --bootstrap 1000 --threads 2 --quiet --out "$work/small_out"; done | tee "$work/small.times"
m=$(median < "$work/small.times"); echo "median: $m s"
if "$PY" -c "import differences" 2>/dev/null; then
    echo "== same panel: differences 0.2.0 fit(dr, never_treated, boot_iterations=1000, n_jobs=2) + aggregate x 7"
    d=$("$PY" scripts/bench_differences.py "$work/small.csv" 1000 2 2>/dev/null); echo "$d s"
    awk -v d="$d" -v m="$m" 'BEGIN {printf "ratio: %.0fx\n", d / m}'
else
    echo "differences not importable by $PY: set DIFFERENCES_PYTHON"
fi
