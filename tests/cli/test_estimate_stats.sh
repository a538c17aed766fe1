#!/usr/bin/env bash
# `memprof estimate STATS.h5`: cohorts derived from /instances/train_step on the checkpoint
# grid, --steps, partial sweeps and effects.h5, each compared with the same panel rebuilt as a
# long CSV by awk from `memprof simulate --out-csv` (an independent path to the same numbers).
set -u
MEMPROF=${MEMPROF:-build/memprof}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
same_tables() {
    for t in attgt agg_simple agg_cohort agg_time agg_event; do
        r=$(awk -F, -v cols="ATT,std_error,lower,upper" -v abs=1e-12 -v rel=0 -f tests/cli/compare_tables.awk "$1/$t.csv" "$2/$t.csv")
        case $r in ok*) ;; *) echo "$t: $r"; return 1;; esac
    done
}
csvest() { "$MEMPROF" estimate --csv "$1" --unit unit --time time --cohort cohort --outcome y --bootstrap 200 --seed 9 --quiet --out "$2"; }
h5est() { local f=$1 o=$2; shift 2; "$MEMPROF" estimate "$f" --metric sup_seq --bootstrap 200 --seed 9 --out "$o" "$@"; }

"$MEMPROF" simulate --cohorts 6 --per-cohort 40 --never 150 --checkpoints 9 --seed 21 --out-h5 "$tmp/s.h5" --out-csv "$tmp/s.csv" || { echo "FAIL stats_simulate: exit $?"; exit 0; }

# 1. default cohort rule (first checkpoint step > train_step) reproduces the simulated cohorts
if h5est "$tmp/s.h5" "$tmp/h" --quiet && csvest "$tmp/s.csv" "$tmp/c" && why=$(same_tables "$tmp/h" "$tmp/c"); then
    echo "PASS stats_h5_matches_csv_panel"
else echo "FAIL stats_h5_matches_csv_panel: ${why:-estimate failed}"; fi

# 2. the paper's rule ceil(ceil(seq_idx/1024)/1000)*1000 agrees here (no seq_idx is a multiple of 1,024,000)
if h5est "$tmp/s.h5" "$tmp/hp" --quiet --cohort-rule paper && why=$(same_tables "$tmp/hp" "$tmp/c"); then
    echo "PASS stats_paper_cohort_rule"
else echo "FAIL stats_paper_cohort_rule: ${why:-estimate failed}"; fi

# 3. --steps: every other checkpoint; cohorts move to the next kept step
awk -F, -v OFS=, 'NR==1 {print; next} $2 % 2000 == 0 { if ($3 != "") $3 = int(($3 + 1999) / 2000) * 2000; print }' "$tmp/s.csv" > "$tmp/steps.csv"
if h5est "$tmp/s.h5" "$tmp/hs" --quiet --steps 0,2000,4000,6000,8000 && csvest "$tmp/steps.csv" "$tmp/cs" && why=$(same_tables "$tmp/hs" "$tmp/cs"); then
    echo "PASS stats_steps_restriction"
else echo "FAIL stats_steps_restriction: ${why:-estimate failed}"; fi

# 4. partial sweep: checkpoint 3000 incomplete → left out and reported; cohort 3000 moves to 4000
"$MEMPROF" simulate --cohorts 6 --per-cohort 40 --never 150 --checkpoints 9 --seed 21 --incomplete 3000 --out-h5 "$tmp/p.h5"
awk -F, -v OFS=, 'NR==1 {print; next} $2 != 3000 { if ($3 == 3000) $3 = 4000; print }' "$tmp/s.csv" > "$tmp/partial.csv"
if h5est "$tmp/p.h5" "$tmp/hq" >"$tmp/log" 2>&1 && grep -q "incomplete checkpoints left out (1): 3000" "$tmp/log" \
   && csvest "$tmp/partial.csv" "$tmp/cq" && why=$(same_tables "$tmp/hq" "$tmp/cq") \
   && h5dump -a /missing_checkpoints "$tmp/hq/effects.h5" | grep -q '"3000"'; then
    echo "PASS stats_partial_sweep"
else echo "FAIL stats_partial_sweep: $(cat "$tmp/log") ${why:-}"; fi

# 5. effects.h5: the pinned datasets hold the CSV's numbers; root attributes
ok=1
for ds in /attgt/cohort /attgt/base_period /attgt/time /attgt/att /attgt/se /attgt/lower /attgt/upper /attgt/significant \
          /agg/simple/att /agg/cohort/key /agg/cohort/att /agg/cohort/se /agg/time/key /agg/event/key /agg/event/lower /agg/event/upper /agg/event/significant; do
    h5ls "$tmp/h/effects.h5$ds" >/dev/null 2>&1 || { ok=0; echo "# missing $ds"; }
done
h5dump -y -w 0 -o "$tmp/att.txt" -d /attgt/att "$tmp/h/effects.h5" >/dev/null 2>&1
tr ',' '\n' < "$tmp/att.txt" | awk 'NF {print $1 + 0}' > "$tmp/att_h5"
awk -F, 'NR>1 {print $4 + 0}' "$tmp/h/attgt.csv" > "$tmp/att_csv"
paste -d' ' "$tmp/att_h5" "$tmp/att_csv" | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * (1 + ($2 < 0 ? -$2 : $2))) bad = 1; n++} END {exit (bad || n < 10)}' || { ok=0; echo "# /attgt/att differs from attgt.csv"; }
for a in format format_version memprof_version model metric control_group base_period anticipation alpha bootstrap seed critical_value n_units memorisation_sign; do
    h5dump -a "/$a" "$tmp/h/effects.h5" >/dev/null 2>&1 || { ok=0; echo "# missing attribute $a"; }
done
h5dump -a /memorisation_sign "$tmp/h/effects.h5" | grep -q '(0): -1' || { ok=0; echo "# memorisation_sign of sup_seq is not -1"; }
"$MEMPROF" simulate --seed 2 --metric acc_seq --out-h5 "$tmp/a.h5" && "$MEMPROF" estimate "$tmp/a.h5" --metric acc_seq --bootstrap 0 --quiet --out "$tmp/ha" \
    && h5dump -a /memorisation_sign "$tmp/ha/effects.h5" | grep -q '(0): 1' || { ok=0; echo "# memorisation_sign of acc_seq is not +1"; }
if [ $ok = 1 ]; then echo "PASS stats_effects_h5_layout"; else echo "FAIL stats_effects_h5_layout: see above"; fi

# 6. a metric the sweep has not computed → error naming it
if ! "$MEMPROF" estimate "$tmp/s.h5" --metric entr_seq --out "$tmp/e" >"$tmp/log" 2>&1 && grep -q "fewer than 2 checkpoints are complete for entr_seq" "$tmp/log"; then
    echo "PASS stats_uncomputed_metric_error"
else echo "FAIL stats_uncomputed_metric_error: $(cat "$tmp/log")"; fi

# 7. simulate --truth: the planted surface follows its formula (defaults: effect -0.5,
#    persistent -0.1, decay 0.6, interval 1000): att = P + (A - P)·R^((t - g)/1000) for t >= g, else 0
"$MEMPROF" simulate --cohorts 4 --checkpoints 7 --seed 3 --out-csv "$tmp/t.csv" --truth "$tmp/truth.csv"
r=$(awk -F, 'NR > 1 { want = ($2 >= $1) ? -0.1 + (-0.5 + 0.1) * 0.6 ^ (($2 - $1) / 1000) : 0
                      d = $3 - want; if (d < 0) d = -d; if (d > m) m = d; n++ }
             END { print (n == 28 && m < 1e-12) ? "ok" : "bad n=" n " max=" m }' "$tmp/truth.csv")
[ "$r" = ok ] && echo "PASS simulate_truth_surface" || echo "FAIL simulate_truth_surface: $r"
