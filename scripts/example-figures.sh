#!/usr/bin/env bash
# Regenerates the example figures in docs/figures/ from planted profiles (memprof simulate →
# estimate → plot / compare): three simulated "sizes" whose memorisation grows with size.
# Usage: scripts/example-figures.sh [MEMPROF] (default build/memprof); needs nothing else.
set -euo pipefail
MEMPROF=${1:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
seed=11
for spec in "sim-small -0.4 -0.05" "sim-medium -0.7 -0.12" "sim-large -1.0 -0.2"; do
    set -- $spec
    "$MEMPROF" simulate --out-h5 "$work/$1.h5" --cohorts 24 --checkpoints 30 --per-cohort 60 --never 300 \
        --effect "$2" --persistent "$3" --seed $seed --model "$1" >/dev/null
    "$MEMPROF" estimate "$work/$1.h5" --metric sup_seq --bootstrap 500 --seed 1 --quiet --out "$work/est-$1"
    seed=$((seed + 1))
done
effects="$work/est-sim-small/effects.h5 $work/est-sim-medium/effects.h5 $work/est-sim-large/effects.h5"
mkdir -p docs/figures
"$MEMPROF" plot $effects --out "$work/plot"
"$MEMPROF" compare $effects --post-only --out "$work/compare"
for f in profile persistent instantaneous residual; do cp "$work/plot/$f.png" docs/figures/example-$f.png; done
for f in correlation scatter; do cp "$work/compare/$f.png" docs/figures/example-$f.png; done
cp "$work/compare/compare.csv" docs/figures/example-compare.csv
sed -i "s|$work/||g" docs/figures/example-compare.csv
