#!/bin/bash
# jobs/submit.sh CONFIG STATS.h5 [NODES] — submit the sweep and the estimate chained after it.
set -eu
config=$1; stats=$2; nodes=${3:-32}
sweep=$(sbatch --parsable --nodes="$nodes" jobs/sweep.sbatch "$config")
for metric in sup_seq acc_seq entr_seq avg_rank; do
    sbatch --dependency=afterok:"$sweep" jobs/estimate.sbatch "$stats" "$metric"
done
echo "sweep job $sweep; estimate jobs wait for it (afterok)"
