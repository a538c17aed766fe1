#!/usr/bin/env bash
# The estimator recovers a planted memorisation profile (issue: main job): on a seeded
# `memprof simulate` panel, the Pearson correlation between estimated and planted ATT(g,t)
# over post-treatment cells is ≥ 0.9, and the event-time curve's pointwise intervals cover
# the planted curve at ≥ 90% of event times. The planted surface comes from the simulator's
# --truth file; numpy computes the checks.
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if ! "$MEMPROF" simulate --cohorts 8 --per-cohort 100 --never 400 --checkpoints 10 --seed 7 \
        --out-h5 "$work/stats.h5" --truth "$work/truth.csv" >/dev/null 2>"$work/err" ||
   ! "$MEMPROF" estimate "$work/stats.h5" --metric sup_seq --bootstrap 1000 --out "$work/est" --quiet 2>>"$work/err"; then
    echo "FAIL planted profile: simulate/estimate failed: $(cat "$work/err")"
    exit 0
fi
python3 - "$work" <<'PY'
import csv, sys
import numpy as np
work = sys.argv[1]
truth = {(int(r["cohort"]), int(r["time"])): float(r["att"]) for r in csv.DictReader(open(f"{work}/truth.csv"))}
cells = [r for r in csv.DictReader(open(f"{work}/est/attgt.csv")) if int(r["time"]) >= int(r["cohort"])]
estimated = np.array([float(r["ATT"]) for r in cells])
planted = np.array([truth[(int(r["cohort"]), int(r["time"]))] for r in cells])
pearson = np.corrcoef(estimated, planted)[0, 1]
ok = pearson >= 0.9
print(("PASS" if ok else "FAIL") + f" planted profile: Pearson(estimated, planted ATT) over {len(cells)} post-treatment cells = {pearson:.3f} (>= 0.9)")

# Planted event-time curve: equal cohort sizes, so the mean over cohorts with cell (g, g+e).
times = sorted({t for _, t in truth})
cohorts = sorted({g for g, _ in truth})
rows = list(csv.DictReader(open(f"{work}/est/agg_event.csv")))
rows = [r for r in rows if r["relative_period"] != "overall"]
covered = 0
for r in rows:
    e = int(r["relative_period"])
    values = [truth[(g, g + e)] for g in cohorts if (g, g + e) in truth]
    curve = float(np.mean(values))
    covered += float(r["lower"]) <= curve <= float(r["upper"])
share = covered / len(rows)
ok = share >= 0.9
print(("PASS" if ok else "FAIL") + f" planted profile: event-time intervals cover the planted curve at {covered}/{len(rows)} event times = {share:.2f} (>= 0.90)")
PY
