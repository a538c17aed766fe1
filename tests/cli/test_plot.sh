#!/usr/bin/env bash
# `memprof plot`: figures from synthetic effects.h5 files (h5py writer, independent of memprof's
# writer) and from `memprof simulate` → `memprof estimate`; PNG/SVG validity and sizes; bad input
# gives one line naming the file and dataset, exit 1; usage errors exit 2.
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS plot: $1"; }
fail() { echo "FAIL plot: $1"; }
if ! python3 -c "import h5py, numpy" 2>/dev/null; then echo "SKIP plot: python3 h5py/numpy missing (pip install -r scripts/requirements.txt)"; exit 0; fi
mk() { python3 tests/cli/make_effects.py "$@"; }

"$MEMPROF" plot --help >"$work/help" 2>&1 && grep -q "usage: memprof plot" "$work/help" && pass "--help" || fail "--help"

mk "$work/a.h5" --model pythia-a --seed 1 && mk "$work/b.h5" --model pythia-b --seed 2 --cohorts 6 --times 12 --no-overall-flag
if "$MEMPROF" plot "$work/a.h5" "$work/b.h5" --out "$work/fig/sub" >"$work/log" 2>&1; then
    pass "two files"
    # sizes: the profile grows with facets; the others are fixed (src/plot/*.c layout constants)
    python3 tests/cli/check_figures.py plot "$work/fig/sub" profile=1015x520 persistent=920x520 instantaneous=920x520 \
        residual=920x520 --heatmap profile
    grep -q "profile.png and .svg (1015 x 520)" "$work/log" && pass "reports sizes" || fail "reports sizes: $(cat "$work/log")"
else
    fail "two files: $(cat "$work/log")"
fi

# eight sizes: a 3 x 3 facet grid, and series figures grown to fit their legend
eight=
for s in 70m 160m 410m 1b 1.4b 2.8b 6.9b 12b; do mk "$work/p$s.h5" --model "pythia-$s-deduped" --seed ${#s} --cohorts 5 --times 6; eight="$eight $work/p$s.h5"; done
if "$MEMPROF" plot $eight --out "$work/eight" >"$work/log" 2>&1; then
    pass "eight files"
    python3 tests/cli/check_figures.py plot-eight "$work/eight" profile=1445x1412 persistent=920x614 instantaneous residual --heatmap profile
else
    fail "eight files: $(cat "$work/log")"
fi

"$MEMPROF" plot "$work/a.h5" --out "$work/one" --only residual >"$work/log" 2>&1 && [ -f "$work/one/residual.png" ] &&
    [ ! -e "$work/one/profile.png" ] && pass "--only" || fail "--only: $(cat "$work/log")"

# end to end with the estimator's own writer
if "$MEMPROF" simulate --out-h5 "$work/s.h5" --cohorts 6 --checkpoints 9 --per-cohort 40 --never 200 --model sim >/dev/null 2>&1 &&
   "$MEMPROF" estimate "$work/s.h5" --metric sup_seq --bootstrap 100 --threads 1 --quiet --out "$work/est" >"$work/log" 2>&1; then
    if "$MEMPROF" plot "$work/est/effects.h5" --out "$work/e2e" >"$work/log" 2>&1; then
        pass "simulate -> estimate -> plot"
        python3 tests/cli/check_figures.py plot-e2e "$work/e2e" profile=585x520 persistent instantaneous residual --heatmap profile
    else
        fail "simulate -> estimate -> plot: $(cat "$work/log")"
    fi
else
    fail "simulate/estimate for the end-to-end plot: $(cat "$work/log")"
fi

# bad input: exit 1 and one line naming the file and what is wrong
expect_error() {  # name, pattern, args...
    local name=$1 pattern=$2; shift 2
    "$MEMPROF" plot "$@" --out "$work/bad" >"$work/out" 2>"$work/err"; local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q -- "$pattern" "$work/err"; then pass "$name"
    else fail "$name: exit $rc, stderr: $(cat "$work/err")"; fi
}
expect_error "missing file" "$work/nope.h5: No such file" "$work/nope.h5"
mk "$work/noatt.h5" --drop /attgt/att
expect_error "missing dataset" "$work/noatt.h5: missing dataset /attgt/att" "$work/a.h5" "$work/noatt.h5"
mk "$work/noevent.h5" --drop /agg/event/upper
expect_error "missing aggregation dataset" "$work/noevent.h5: missing dataset /agg/event/upper" "$work/noevent.h5"
mk "$work/stats.h5" --format memprof-stats
expect_error "wrong format attribute" "$work/stats.h5: root attribute format is 'memprof-stats'" "$work/stats.h5"
mk "$work/rank2.h5" --drop /attgt/se
python3 -c "import sys, h5py, numpy; h5py.File(sys.argv[1], 'a').create_dataset('/attgt/se', data=numpy.zeros((80, 2)))" "$work/rank2.h5"
expect_error "2-D dataset" "$work/rank2.h5: dataset /attgt/se is not a 1-D dataset" "$work/rank2.h5"
mk "$work/short.h5" --drop /attgt/upper
python3 -c "import sys, h5py, numpy; h5py.File(sys.argv[1], 'a').create_dataset('/attgt/upper', data=numpy.zeros(5))" "$work/short.h5"
expect_error "length mismatch" "$work/short.h5: dataset /attgt/upper has 5 rows, expected 80" "$work/short.h5"
echo "not hdf5" >"$work/text.h5"
expect_error "not HDF5" "$work/text.h5: not an HDF5 file" "$work/text.h5"

"$MEMPROF" plot "$work/a.h5" >/dev/null 2>&1; [ $? -eq 2 ] && pass "no --out: exit 2" || fail "no --out: not exit 2"
"$MEMPROF" plot --out "$work/x" >/dev/null 2>&1; [ $? -eq 2 ] && pass "no input: exit 2" || fail "no input: not exit 2"
"$MEMPROF" plot "$work/a.h5" --out "$work/x" --only nonsense >/dev/null 2>&1; [ $? -eq 2 ] && pass "bad --only: exit 2" || fail "bad --only: not exit 2"
