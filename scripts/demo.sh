#!/usr/bin/env bash
# The main job on embedded defaults (`make demo`), nothing to download:
#   1. a synthetic panel and a short series of tiny GPT-NeoX checkpoints (random weights);
#   2. the distributed sweep with `mpirun -np 3` on the CPU (rank 0 coordinates, 2 workers);
#   3. the estimate and the figures;
#   4. a simulated panel with a planted memorisation profile → estimate → figures, to show
#      what a real profile looks like.
# Outputs go to out/demo (the path configs/demo.yaml names).
set -euo pipefail
cd "$(dirname "$0")/.."
MEMPROF=${MEMPROF:-build/memprof}
out=out/demo
rm -rf "$out"
mkdir -p "$out/checkpoints"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # harmless when not root
started=$(date +%s.%N)
elapsed() { awk -v now="$(date +%s.%N)" -v start="$started" 'BEGIN { printf "%.1f s", now - start }'; }

echo "== 1. panel and checkpoints"
"$MEMPROF" panel --synthetic --steps 4000 --out "$out/panel.h5"
for step in 0 1000 2000 3000 4000; do
    python3 scripts/make-random-checkpoint.py --size tiny --seed "$step" --dtype F32 --out "$out/checkpoints/step$step"
done
echo "   $out/panel.h5: 48 training rows (trained on at steps 0-3999) and 16 held-out rows; 5 checkpoints ($(elapsed))"

echo "== 2. sweep: 5 checkpoints x 64 instances x 2048 predictions, mpirun -np 3"
mpirun --oversubscribe -np 3 "$MEMPROF" sweep configs/demo.yaml threads=1 --progress-interval 5
"$MEMPROF" status "$out/stats.h5" | head -n 12
echo "   ($(elapsed))"

echo "== 3. estimate and figures"
for metric in sup_seq acc_seq; do
    "$MEMPROF" estimate "$out/stats.h5" --metric "$metric" --bootstrap 1000 --out "$out/estimate-$metric" --quiet
done
"$MEMPROF" plot "$out/estimate-sup_seq/effects.h5" --out "$out/figures"
echo "   ($(elapsed))"

echo "== 4. a planted profile: simulate -> estimate -> plot"
mkdir -p "$out/simulated"
"$MEMPROF" simulate --cohorts 8 --per-cohort 100 --never 400 --checkpoints 10 --seed 7 \
    --out-h5 "$out/simulated/stats.h5" --truth "$out/simulated/truth.csv" >/dev/null
"$MEMPROF" estimate "$out/simulated/stats.h5" --metric sup_seq --bootstrap 1000 --out "$out/simulated/estimate" --quiet
"$MEMPROF" plot "$out/simulated/estimate/effects.h5" --out "$out/simulated/figures"

significant=$(awk -F, 'NR > 1 && $8 == "*"' "$out/estimate-sup_seq/attgt.csv" | wc -l)
cells=$(awk -F, 'NR > 1' "$out/estimate-sup_seq/attgt.csv" | wc -l)
planted=$(awk -F, 'NR > 1 && $8 == "*"' "$out/simulated/estimate/attgt.csv" | wc -l)
planted_cells=$(awk -F, 'NR > 1' "$out/simulated/estimate/attgt.csv" | wc -l)
cat <<TXT

Done in $(elapsed). Outputs:
  $out/stats.h5                      per-sequence statistics, checkpoints x instances (docs/formats.md)
  $out/estimate-sup_seq/             ATT(g,t) and aggregations for mean surprisal (attgt.csv, agg_*.csv, effects.h5)
  $out/estimate-acc_seq/             the same for accuracy
  $out/figures/*.png, *.svg          profile, persistent, instantaneous, residual (docs/figures.md)
  $out/simulated/                    a simulated panel with a planted profile, its estimate and figures

How to read them: memorisation of a cohort (instances trained on in the same interval) at a
checkpoint is minus the effect on surprisal: how much better the model predicts those
instances than it would have without training on them, relative to held-out instances.

The tiny model's checkpoints are independent random draws, not a training run, so there is
nothing to memorise: the estimator finds $significant of $cells ATT(g,t) cells whose
simultaneous 95% band excludes zero (expect none or almost none). On the simulated panel, whose
planted effect is real, $planted of $planted_cells cells are significant: compare
$out/figures/profile.png with $out/simulated/figures/profile.png.
TXT
