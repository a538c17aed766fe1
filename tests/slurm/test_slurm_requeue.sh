#!/usr/bin/env bash
# Opt-in (not part of `make test`; takes ~5 minutes): jobs/sweep.sbatch on a real single-node
# Slurm. The job's time limit (2 min) is shorter than the sweep, so Slurm
# sends USR2 60 s before it; the batch shell forwards it, the sweep drains (exit 3), the job
# requeues itself, the next run resumes and completes. Checks: the job ran more than once
# (RUN records, SLURM_RESTART_COUNT), ended COMPLETED, /stats equals an mpirun sweep (h5diff),
# no journalled cell recomputed.
#   tests/slurm/test_slurm_requeue.sh            needs a running Slurm with srun --mpi=pmix
set -u
MEMPROF=$(readlink -f "${MEMPROF:-build/memprof}")
command -v sbatch >/dev/null && sinfo >/dev/null 2>&1 || { echo "SKIP slurm: no running Slurm"; exit 0; }
work=$(mktemp -d -p "$PWD" slurmtest.XXXXXX); trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for s in 0 1000; do python3 scripts/make-random-checkpoint.py --size tiny --out "$work/ckpt/step$s" --seed $((s + 3)) >/dev/null; done
"$MEMPROF" panel --synthetic --train-rows 30 --heldout-rows 6 --sequence-length 17 --out "$work/panel.h5" >/dev/null 2>&1
conf() {
    cat >"$1" <<CONF
model: {name: slurm-test, checkpoint: "$work/ckpt/step{step}"}
checkpoints: {steps: "0:1000:1000"}
panel: $work/panel.h5
output: $2
threads: 1
shard_size: 2
CONF
}
conf "$work/ref.yaml" "$work/ref.h5"
mpirun -np 3 --oversubscribe "$MEMPROF" sweep "$work/ref.yaml" >/dev/null 2>&1 || { echo "FAIL slurm: reference sweep"; exit 1; }
conf "$work/job.yaml" "$work/job.h5"
# 36 tasks x 5 s over 2 workers = ~90 s of work; USR2 comes 60 s before the 2-minute limit.
# The template minus its GPU request (this test cluster has no GPUs configured).
sed '/^#SBATCH --gpus-per-node/d' jobs/sweep.sbatch >"$work/sweep.sbatch"
job=$(cd "$work" && MEMPROF="$MEMPROF" GPUS_PER_NODE=2 SRUN_GPU_FLAGS= MEMPROF_TEST_TASK_DELAY_MS=5000 \
      sbatch --parsable --export=ALL --time=2 --signal=B:USR2@60 --nodes=1 --ntasks-per-node=1 --cpus-per-task=1 \
      --output="$work/job-%j.out" "$work/sweep.sbatch" "$work/job.yaml") || { echo "FAIL slurm: sbatch"; exit 1; }
for _ in $(seq 100); do
    state=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    [ "$state" = COMPLETED ] || [ "$state" = FAILED ] || [ "$state" = CANCELLED ] || [ "$state" = TIMEOUT ] && break
    reason=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p')
    [ "$reason" = PartitionConfig ] || [ "$reason" = BadConstraints ] && { echo "FAIL slurm: job cannot run ($reason)"; scancel "$job"; exit 1; }
    sleep 5
done
[ "$state" = COMPLETED ] || scancel "$job" 2>/dev/null
restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
runs=$("$MEMPROF" status "$work/job.h5" | sed -n 's/^runs: \([0-9]*\);.*/\1/p')
[ "$state" = COMPLETED ] && echo "PASS slurm: job completed" || echo "FAIL slurm: job state $state: $(tail -n 5 "$work"/job-*.out)"
[ "${restarts:-0}" -ge 1 ] && [ "${runs:-0}" -ge 2 ] && echo "PASS slurm: drained by USR2 and requeued ($restarts restarts, $runs runs)" \
    || echo "FAIL slurm: restarts ${restarts:-?}, runs ${runs:-?}"
grep -q "drained" "$work"/job-*.out && echo "PASS slurm: the batch log shows the drain" || echo "FAIL slurm: no drain in the batch log"
ok=1; for m in sup_seq acc_seq entr_seq avg_rank; do h5diff "$work/ref.h5" "$work/job.h5" "/stats/$m" >/dev/null || ok=0; done
[ $ok = 1 ] && echo "PASS slurm: /stats equals the mpirun sweep" || echo "FAIL slurm: /stats differs"
"$MEMPROF" status "$work/job.h5" | grep -q "cells journalled more than once: 0" && echo "PASS slurm: no journalled cell recomputed" \
    || echo "FAIL slurm: cells recomputed"
