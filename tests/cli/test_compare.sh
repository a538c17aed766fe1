#!/usr/bin/env bash
# `memprof compare`: Pearson, Spearman and Kendall tau-b per pair against scipy.stats on
# generated effects files (ties from rounding, grids that only partly overlap, opposite
# memorisation signs); the CSV and figures; bad input and usage errors.
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS compare: $1"; }
fail() { echo "FAIL compare: $1"; }
if ! python3 -c "import h5py, numpy" 2>/dev/null; then echo "SKIP compare: python3 h5py/numpy missing (pip install -r scripts/requirements.txt)"; exit 0; fi
mk() { python3 tests/cli/make_effects.py "$@"; }

"$MEMPROF" compare --help >"$work/help" 2>&1 && grep -q "usage: memprof compare" "$work/help" && pass "--help" || fail "--help"

mk "$work/m70.h5" --model m70 --seed 3 --cohorts 10 --times 14 --round 2
mk "$work/m410.h5" --model m410 --seed 4 --cohorts 12 --times 12 --round 2
mk "$work/m1b.h5" --model m1b --seed 5 --cohorts 8 --times 16 --sign 1 --round 1
files="$work/m70.h5 $work/m410.h5 $work/m1b.h5"
for mode in all post; do
    flag=; [ $mode = post ] && flag=--post-only
    if "$MEMPROF" compare $files --out "$work/out-$mode" $flag >"$work/log" 2>&1; then
        pass "three files ($mode cells)"
        if python3 -c "import scipy" 2>/dev/null; then
            python3 tests/cli/compare_scipy.py "$work/out-$mode/compare.csv" $files $flag | sed "s/^\(PASS\|FAIL\) /\1 $mode /"
        else
            echo "SKIP compare: scipy missing (pip install -r scripts/requirements.txt)"
        fi
    else
        fail "three files ($mode cells): $(cat "$work/log")"
    fi
done
if [ -f "$work/out-all/compare.csv" ]; then
    head -1 "$work/out-all/compare.csv" | grep -qx "file_a,file_b,model_a,model_b,metric_a,metric_b,cells,pearson,spearman,kendall_tau_b" &&
        pass "CSV header" || fail "CSV header: $(head -1 "$work/out-all/compare.csv")"
    python3 tests/cli/check_figures.py compare "$work/out-all" correlation scatter
fi
"$MEMPROF" compare $files --out "$work/nofig" --no-figures >/dev/null 2>&1 && [ -f "$work/nofig/compare.csv" ] &&
    [ ! -e "$work/nofig/correlation.png" ] && pass "--no-figures" || fail "--no-figures"

# the estimator's own effects.h5 against a copy of itself: every finite cell shared, all coefficients 1
if "$MEMPROF" simulate --out-h5 "$work/s.h5" --cohorts 5 --checkpoints 8 --per-cohort 40 --never 200 --model sim >/dev/null 2>&1 &&
   "$MEMPROF" estimate "$work/s.h5" --metric sup_seq --bootstrap 50 --threads 1 --quiet --out "$work/est" >"$work/log" 2>&1; then
    cp "$work/est/effects.h5" "$work/copy.h5"
    finite=$(python3 -c "import sys, h5py, numpy; print(int(numpy.isfinite(h5py.File(sys.argv[1])['/attgt/att'][:]).sum()))" "$work/copy.h5")
    if "$MEMPROF" compare "$work/est/effects.h5" "$work/copy.h5" --out "$work/self" --no-figures >"$work/log" 2>&1 &&
       awk -F, -v n="$finite" 'NR == 2 { exit !($7 == n && $8 > 1 - 1e-12 && $9 > 1 - 1e-12 && $10 > 1 - 1e-12) }' "$work/self/compare.csv"; then
        pass "estimate's effects.h5 with itself: $finite cells, r = rho = tau = 1"
    else
        fail "estimate's effects.h5 with itself ($finite finite cells): $(cat "$work/log") $(tail -1 "$work/self/compare.csv" 2>/dev/null)"
    fi
else
    fail "simulate/estimate for the self-comparison: $(cat "$work/log")"
fi

# files that share no cells: exit 0, nan coefficients and a warning
mk "$work/far.h5" --model far --step 7 --cohorts 3 --times 3
if "$MEMPROF" compare "$work/m70.h5" "$work/far.h5" --out "$work/disjoint" >"$work/log" 2>"$work/err" &&
   grep -q ",0,nan,nan,nan$" "$work/disjoint/compare.csv" && grep -q "warning" "$work/err"; then pass "no shared cells: nan"
else fail "no shared cells: $(cat "$work/err") $(cat "$work/disjoint/compare.csv" 2>/dev/null)"; fi

expect_error() {  # name, pattern, args...
    local name=$1 pattern=$2; shift 2
    "$MEMPROF" compare "$@" --out "$work/bad" >"$work/out" 2>"$work/err"; local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q -- "$pattern" "$work/err"; then pass "$name"
    else fail "$name: exit $rc, stderr: $(cat "$work/err")"; fi
}
expect_error "missing file" "$work/gone.h5: No such file" "$work/m70.h5" "$work/gone.h5"
mk "$work/nosig.h5" --drop /attgt/significant
expect_error "missing dataset" "$work/nosig.h5: missing dataset /attgt/significant" "$work/nosig.h5" "$work/m70.h5"
mk "$work/panel.h5" --format memprof-panel
expect_error "wrong format attribute" "$work/panel.h5: root attribute format is 'memprof-panel'" "$work/m70.h5" "$work/panel.h5"
"$MEMPROF" compare "$work/m70.h5" --out "$work/x" >/dev/null 2>&1; [ $? -eq 2 ] && pass "one file: exit 2" || fail "one file: not exit 2"
"$MEMPROF" compare "$work/m70.h5" "$work/m410.h5" >/dev/null 2>&1; [ $? -eq 2 ] && pass "no --out: exit 2" || fail "no --out: not exit 2"
