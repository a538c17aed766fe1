#!/usr/bin/env bash
# Coordinator throughput: task messages per second through the real `memprof sweep` (MPI
# messages, journal fsync per DONE, HDF5 independent writes, /done hints) with tasks that do
# almost no compute: one tiny checkpoint, 2-token rows, one instance per task.
#   scripts/bench-coordinator.sh [RANKS (4)] [TASKS (3000)]
set -eu
ranks=${1:-4}; tasks=${2:-3000}
MEMPROF=${MEMPROF:-build/memprof}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 scripts/make-random-checkpoint.py --size tiny --out "$work/ckpt/step0" --seed 1 >/dev/null
"$MEMPROF" panel --synthetic --train-rows "$tasks" --heldout-rows 0 --sequence-length 2 --out "$work/panel.h5" >/dev/null 2>&1
cat >"$work/sweep.yaml" <<CONF
model: {name: bench, checkpoint: "$work/ckpt/step{step}"}
checkpoints: {steps: 0}
panel: $work/panel.h5
output: $work/stats.h5
threads: 1
shard_size: 1
batch_size: 1
CONF
start=$(date +%s.%N)
mpirun -np "$ranks" --oversubscribe "$MEMPROF" sweep "$work/sweep.yaml" --progress-interval 1000 2>/dev/null
end=$(date +%s.%N)
done_tasks=$("$MEMPROF" status "$work/stats.h5" --records | grep -c '^DONE')
python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'{n} tasks with {int(sys.argv[4])-1} workers in {t:.2f} s (including MPI start-up): {n/t:.0f} task messages/s')" "$start" "$end" "$done_tasks" "$ranks"
grep -h "coordinator:" "$work/stats.h5.logs/rank-00000.log" | sed 's/^[^ ]* info: //'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
