#!/usr/bin/env bash
# `memprof sweep` under `mpirun -np 4 --oversubscribe` on tiny checkpoints (CPU backend):
# /stats equals single-process `memprof score` bit for bit; fault injection (kill -9 of one
# worker, kill -9 of the whole job mid-write, USR2 drain, a torn journal tail) then resume,
# also with another rank count, equals an uninterrupted sweep (h5diff) with no journalled cell
# recomputed; weight sharing and striped node reads (also with failing stripes) equal it too;
# a corrupt checkpoint fails only its tasks (exit 4); refused resumes; a journal from before
# the kernel settings were recorded resumes with a warning.
set -u
MEMPROF=${MEMPROF:-build/memprof}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Under `make sanitize`: Open MPI/HDF5 keep per-process allocations to exit; full unwinding lets
# the suppressions recognise them (memprof's own leaks still fail).
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0} LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/cli/lsan-mpi.supp}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS sweep: $1"; }
fail() { echo "FAIL sweep: $1"; }
skip() { echo "SKIP sweep: $1"; }
for tool in mpirun h5diff python3; do
    command -v $tool >/dev/null || { skip "$tool not installed"; exit 0; }
done
python3 -c "import h5py, safetensors, numpy" 2>/dev/null || { skip "python h5py/safetensors/numpy missing (scripts/requirements.txt)"; exit 0; }
REF="python3 tests/cli/sweep_reference.py"

# Three "checkpoints" of one tiny architecture, a panel of 24 rows x 33 tokens.
for s in 0 1000 2000; do
    python3 scripts/make-random-checkpoint.py --size tiny --out "$work/ckpt/step$s" --seed $((s + 7)) >/dev/null || { fail "make checkpoints"; exit 1; }
done
"$MEMPROF" panel --synthetic --train-rows 18 --heldout-rows 6 --sequence-length 33 --out "$work/panel.h5" >/dev/null 2>&1 \
    || { fail "memprof panel --synthetic"; exit 1; }
write_config() {  # dir, checkpoint root
    mkdir -p "$1"
    cat >"$1/sweep.yaml" <<CONF
model:
  name: tiny-neox
  checkpoint: $2/step{step}
checkpoints:
  steps: "0:2000:1000"
panel: $work/panel.h5
output: $1/stats.h5
threads: 1
shard_size: 4
batch_size: 3
CONF
}
sweep() {  # np, dir, extra args...
    local np=$1 dir=$2; shift 2
    timeout 120 mpirun -np "$np" --oversubscribe "$MEMPROF" sweep "$dir/sweep.yaml" --progress-interval 1 "$@" >"$dir/out" 2>&1
}
done_records() { "$MEMPROF" status "$1/stats.h5" --records 2>/dev/null | grep -c '^DONE'; }
wait_done() {  # dir, count: wait until the journal holds that many DONE records (max 60 s)
    for _ in $(seq 600); do [ "$(done_records "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1
}
mpirun_pid() { pgrep -P "$(pgrep -P "$1")"; }  # job (a subshell) -> timeout -> mpirun
rank_pid() { grep -h "rank $2: pid" "$1/stats.h5.logs/rank-0000$2.log" | tail -n 1 | sed 's/.*pid \([0-9]*\).*/\1/'; }
expect_refusal() {  # label, dir, expected substring, overrides...
    local label=$1 dir=$2 expected=$3; shift 3
    sweep 2 "$dir" "$@"; local rc=$?
    if [ $rc = 1 ] && grep -q "$expected" "$dir/out" && [ "$(grep -c '^memprof sweep:' "$dir/out")" = 1 ]; then pass "$label"
    else fail "$label: status $rc, output: $(head -c 300 "$dir/out")"; fi
}
same_stats() {  # dir, label: h5diff of /stats and the journal shows no cell twice
    local ok=1
    for m in sup_seq acc_seq entr_seq avg_rank; do
        h5diff "$work/clean/stats.h5" "$1/stats.h5" "/stats/$m" >/dev/null 2>&1 || { ok=0; fail "$2: h5diff /stats/$m differs from the uninterrupted sweep"; }
    done
    local dup
    dup=$("$MEMPROF" status "$1/stats.h5" | sed -n 's/^cells journalled more than once: //p')
    [ "$dup" = 0 ] || { ok=0; fail "$2: the journal shows $dup cells computed twice"; }
    [ $ok = 1 ] && pass "$2: /stats identical to the uninterrupted sweep, no journalled cell recomputed"
}

# --- the uninterrupted sweep vs single-process `memprof score` ----------------------------
write_config "$work/clean" "$work/ckpt"
if sweep 4 "$work/clean"; then pass "clean sweep with 4 ranks exits 0"; else fail "clean sweep: $(tail -n 3 "$work/clean/out")"; fi
$REF tokens "$work/panel.h5" "$work/tokens.txt"
specs=()
for c in 0 1 2; do
    step=$((c * 1000))
    "$MEMPROF" score --checkpoint "$work/ckpt/step$step" --tokens "$work/tokens.txt" --threads 1 >"$work/score$c.csv" 2>"$work/score.err" \
        || fail "memprof score step$step: $(cat "$work/score.err")"
    specs+=("$c:$work/score$c.csv")
done
$REF compare "$work/clean/stats.h5" "sweep: /stats equals memprof score bit for bit (3 checkpoints x 24 instances)" "${specs[@]}"
$REF layout "$work/clean/stats.h5" 3 24 4 "$work/panel.h5"
if "$MEMPROF" status "$work/clean/stats.h5" | grep -q "a resume will: do nothing"; then pass "status of a finished sweep"; else fail "status: $("$MEMPROF" status "$work/clean/stats.h5")"; fi
# Rerunning a finished sweep recomputes nothing.
sweep 4 "$work/clean"; rc=$?
n=$(done_records "$work/clean")
[ $rc = 0 ] && [ "$n" = "$(done_records "$work/clean")" ] && "$MEMPROF" status "$work/clean/stats.h5" | grep -q "runs: 2" \
    && pass "rerun of a finished sweep exits 0 and adds no DONE record" || fail "rerun of a finished sweep (rc $rc)"

# --- one rank alone (coordinator and worker in turn) -------------------------------------
write_config "$work/single" "$work/ckpt"
if timeout 120 "$MEMPROF" sweep "$work/single/sweep.yaml" >"$work/single/out" 2>&1; then same_stats "$work/single" "one rank without mpirun"
else fail "single-rank sweep: $(tail -n 3 "$work/single/out")"; fi

# --- weight sharing: workers get checkpoints from a node peer over MPI --------------------
write_config "$work/share" "$work/ckpt"
if sweep 4 "$work/share" --stage-dir "$work/stage" shard_size=2; then
    same_stats "$work/share" "--stage-dir (checkpoints sent between workers of the node)"
    n=$(cat "$work/share/stats.h5.logs/"*.log | grep -c "received checkpoint")
    [ "$n" -gt 0 ] && pass "weight sharing: $n checkpoint loads came from a peer over MPI" || fail "weight sharing: no checkpoint was received from a peer"
    [ -z "$(ls -A "$work/stage" 2>/dev/null)" ] && pass "weight sharing: staged copies removed at the end" || fail "staged copies left: $(ls "$work/stage")"
else
    fail "sweep with --stage-dir: $(tail -n 3 "$work/share/out")"
fi

# --- striped reads: a checkpoint no peer holds is read in stripes by the node's workers -----
write_config "$work/stripe" "$work/ckpt"
if sweep 4 "$work/stripe" --stage-dir "$work/stage-stripe" shard_size=2; then
    same_stats "$work/stripe" "--stage-dir with striped reads"
    n=$(cat "$work/stripe/stats.h5.logs/"*.log | grep -c "striped read of checkpoint [0-9]*: 3 ranks")
    served=$(cat "$work/stripe/stats.h5.logs/"*.log | sed -n 's/.*striped reads: .* \([0-9]*\) stripes served for peers.*/\1/p' | awk '{s += $1} END {print s + 0}')
    [ "$n" -gt 0 ] && [ "$served" -gt 0 ] && pass "striped reads: $n checkpoint reads split over the node's 3 workers, $served stripes served" \
        || fail "striped reads: $n striped reads over 3 ranks, $served stripes served"
    [ -z "$(ls -A "$work/stage-stripe" 2>/dev/null)" ] && pass "striped reads: staged folders removed at the end" || fail "staged folders left: $(ls "$work/stage-stripe")"
else
    fail "sweep with striped reads: $(tail -n 3 "$work/stripe/out")"
fi
# Every worker damages the stripes it writes for others: the readers' re-hash catches it and
# they copy those ranges themselves; the results stay bit-identical.
write_config "$work/stripefault" "$work/ckpt"
if MEMPROF_TEST_STRIPE_FAIL_RANK=all sweep 4 "$work/stripefault" --stage-dir "$work/stage-fault" shard_size=2; then
    same_stats "$work/stripefault" "striped reads with every peer writing wrong bytes"
    n=$(cat "$work/stripefault/stats.h5.logs/"*.log | grep -c "do not match the xxh64 it reported; copying it here")
    [ "$n" -gt 0 ] && pass "striped reads: $n damaged ranges caught by the re-hash and copied again" || fail "striped reads: no damaged range was caught"
else
    fail "sweep with failing stripes: $(tail -n 3 "$work/stripefault/out")"
fi
write_config "$work/nostripe" "$work/ckpt"
if sweep 4 "$work/nostripe" --stage-dir "$work/stage-nostripe" --no-stripe shard_size=2; then
    n=$(cat "$work/nostripe/stats.h5.logs/"*.log | grep -c "striped read")
    [ "$n" = 0 ] && pass "--no-stripe: no striped read" || fail "--no-stripe: $n striped reads"
    same_stats "$work/nostripe" "--stage-dir --no-stripe"
else
    fail "sweep with --no-stripe: $(tail -n 3 "$work/nostripe/out")"
fi
# --- weight sharing in memory: the peer sends its loaded weights, no files, no --stage-dir ----
write_config "$work/memshare" "$work/ckpt"
if sweep 4 "$work/memshare" --share-weights shard_size=2; then
    same_stats "$work/memshare" "--share-weights (weights sent between workers of the node in memory)"
    n=$(cat "$work/memshare/stats.h5.logs/"*.log | grep -c "received checkpoint [0-9]* from rank [0-9]* in memory")
    [ "$n" -gt 0 ] && pass "weight sharing in memory: $n checkpoint loads came from a peer's memory over MPI" \
        || fail "weight sharing in memory: no checkpoint was received from a peer"
    sums=$(python3 -c "import h5py,sys; print(' '.join(x.decode() for x in h5py.File(sys.argv[1])['/checkpoints/checksum'][:]))" "$work/memshare/stats.h5")
    ref=$(python3 -c "import h5py,sys; print(' '.join(x.decode() for x in h5py.File(sys.argv[1])['/checkpoints/checksum'][:]))" "$work/clean/stats.h5")
    [ -n "$ref" ] && [ "$sums" = "$ref" ] && pass "weight sharing in memory: /checkpoints/checksum as when each worker reads the folder" \
        || fail "weight sharing in memory: checksums '$sums', expected '$ref'"
else
    fail "sweep with --share-weights: $(tail -n 3 "$work/memshare/out")"
fi
# --- both: weights in memory from a peer that holds them, striped reads for the rest ----------
write_config "$work/memstripe" "$work/ckpt"
if sweep 4 "$work/memstripe" --share-weights --stage-dir "$work/stage-memstripe" shard_size=2; then
    same_stats "$work/memstripe" "--share-weights with --stage-dir (memory sharing and striped reads)"
    m=$(cat "$work/memstripe/stats.h5.logs/"*.log | grep -c "received checkpoint [0-9]* from rank [0-9]* in memory")
    n=$(cat "$work/memstripe/stats.h5.logs/"*.log | grep -c "striped read of checkpoint")
    [ "$m" -gt 0 ] && [ "$n" -gt 0 ] && pass "memory sharing and striped reads together: $m loads from a peer's memory, $n striped reads" \
        || fail "memory sharing and striped reads together: $m loads from memory, $n striped reads"
else
    fail "sweep with --share-weights --stage-dir: $(tail -n 3 "$work/memstripe/out")"
fi

# --- two virtual nodes on this machine (MEMPROF_TEST_RANKS_PER_NODE=3: ranks 0-2 and 3-4) ----
# Peers, stripes and sources stay inside a node: every "received ... from rank R" names a rank
# of the receiver's node and every striped read has the node's 2 workers.
write_config "$work/twonodes" "$work/ckpt"
if MEMPROF_TEST_RANKS_PER_NODE=3 sweep 5 "$work/twonodes" --share-weights --stage-dir "$work/stage-twonodes" shard_size=2; then
    same_stats "$work/twonodes" "two virtual nodes, --share-weights --stage-dir"
    layout=$(python3 -c "import h5py,sys; a=h5py.File(sys.argv[1]).attrs['devices']; print(a.decode() if isinstance(a, bytes) else a)" "$work/twonodes/stats.h5" 2>&1)
    case "$layout" in *"5 rank(s) on 2 node(s)"*) true;; *) false;; esac && pass "two virtual nodes: the rank layout in stats.h5 says 5 ranks on 2 nodes" \
        || fail "two virtual nodes: rank layout '$layout'"
    cross=0; shared=0; striped=0
    for q in 1 2 3 4; do
        log="$work/twonodes/stats.h5.logs/rank-0000$q.log"
        for r in $(sed -n 's/.*received checkpoint [0-9]* from rank \([0-9]*\).*/\1/p' "$log"); do
            shared=$((shared + 1)); [ $((r / 3)) = $((q / 3)) ] || cross=$((cross + 1))
        done
        striped=$((striped + $(grep -c "striped read of checkpoint [0-9]*.*: 2 ranks" "$log")))
        cross=$((cross + $(grep -c "striped read of checkpoint [0-9]*.*: [013-9] ranks" "$log")))
    done
    [ "$cross" = 0 ] && [ "$shared" -gt 0 ] && [ "$striped" -gt 0 ] \
        && pass "two virtual nodes: $shared checkpoints from same-node peers, $striped striped reads by a node's 2 workers, none across nodes" \
        || fail "two virtual nodes: $cross transfers or stripes crossed nodes ($shared shared, $striped striped)"
else
    fail "sweep on two virtual nodes: $(tail -n 3 "$work/twonodes/out")"
fi

# --- prefetch: the next checkpoint loads in a thread while the current one computes ---------
write_config "$work/prefetch" "$work/ckpt"
if sweep 4 "$work/prefetch" --prefetch-lead 100 shard_size=2; then
    same_stats "$work/prefetch" "--prefetch-lead (hinted checkpoints loaded in the background)"
    n=$(cat "$work/prefetch/stats.h5.logs/"*.log | grep -c "from the prefetch")
    [ "$n" -gt 0 ] && pass "prefetch: $n checkpoint switches used a prefetched checkpoint" || fail "prefetch: no prefetched checkpoint was used"
else
    fail "sweep with --prefetch-lead: $(tail -n 3 "$work/prefetch/out")"
fi
write_config "$work/prefetchstripe" "$work/ckpt"
if sweep 4 "$work/prefetchstripe" --prefetch-lead 100 --stage-dir "$work/stage-prefetch" shard_size=2; then
    same_stats "$work/prefetchstripe" "--prefetch-lead --stage-dir (prefetches read in stripes)"
    n=$(cat "$work/prefetchstripe/stats.h5.logs/"*.log | grep -c "striped read of checkpoint [0-9]* (prefetch): 3 ranks")
    [ "$n" -gt 0 ] && pass "prefetch: $n prefetches were striped reads over the node's 3 workers" || fail "prefetch: no striped prefetch"
    [ -z "$(ls -A "$work/stage-prefetch" 2>/dev/null)" ] && pass "striped prefetch: staged folders removed at the end" || fail "staged folders left: $(ls "$work/stage-prefetch")"
else
    fail "sweep with --prefetch-lead --stage-dir: $(tail -n 3 "$work/prefetchstripe/out")"
fi

# --- per-token side files: drained, resumed with 3 ranks, equal to score --per-token -------
write_config "$work/tokens" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=300 sweep 4 "$work/tokens" per_token=true & job=$!
if wait_done "$work/tokens" 4; then
    kill -9 $(rank_pid "$work/tokens" 0) $(rank_pid "$work/tokens" 1) $(rank_pid "$work/tokens" 2) $(rank_pid "$work/tokens" 3) "$(mpirun_pid $job)"
    wait $job 2>/dev/null
    if sweep 3 "$work/tokens" per_token=true; then
        same_stats "$work/tokens" "per_token sweep killed and resumed"
        ok=1
        for c in 0 1 2; do
            step=$((c * 1000))
            "$MEMPROF" score --checkpoint "$work/ckpt/step$step" --tokens "$work/tokens.txt" --per-token --threads 1 2>/dev/null \
                | awk -F, 'NR > 1 { print $1 - 1 "," $2 "," $4 "," $5 "," $6 "," $7 }' >"$work/want$c.csv"
            "$MEMPROF" status "$work/tokens/stats.h5" --tokens $step | tail -n +2 >"$work/got$c.csv" || ok=0
            cmp -s "$work/want$c.csv" "$work/got$c.csv" || { ok=0; fail "per-token records of step $step differ from memprof score --per-token"; }
        done
        runs=$(ls "$work/tokens/stats.h5.tokens" | sed 's/\.rank.*//' | sort -u | wc -l)
        [ $ok = 1 ] && [ "$runs" = 2 ] && pass "per-token side files of 2 runs equal memprof score --per-token bit for bit (3 checkpoints)"
        expect_refusal "resume with per_token changed is refused" "$work/tokens" "per_token changed" per_token=false
    else
        fail "per_token resume: $(tail -n 3 "$work/tokens/out")"
    fi
else
    fail "per_token: the sweep never journalled 4 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- kill -9 of one worker mid-task, resume with 3 ranks ---------------------------------
write_config "$work/kill1" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=400 sweep 4 "$work/kill1" & job=$!
if wait_done "$work/kill1" 3; then
    kill -9 "$(rank_pid "$work/kill1" 2)"
    wait $job; rc=$?
    [ $rc != 0 ] && pass "kill -9 of worker rank 2 ends the job (mpirun status $rc)" || fail "kill -9 of a worker: mpirun exited 0"
    if "$MEMPROF" status "$work/kill1/stats.h5" | grep -q "did not finish"; then pass "status after kill -9 says the run did not finish"; else fail "status after kill -9"; fi
    if sweep 3 "$work/kill1"; then same_stats "$work/kill1" "kill -9 of one worker, resumed with 3 ranks"; else fail "resume after kill -9: $(tail -n 3 "$work/kill1/out")"; fi
else
    fail "kill -9 of a worker: the sweep never journalled 3 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- kill -9 of the whole job while a task is half written -------------------------------
write_config "$work/killall" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=400 sweep 4 "$work/killall" & job=$!
if wait_done "$work/killall" 4; then
    sleep 0.2  # workers are inside the pause between their second and third metric write
    pids="$(rank_pid "$work/killall" 0) $(rank_pid "$work/killall" 1) $(rank_pid "$work/killall" 2) $(rank_pid "$work/killall" 3)"
    kill -9 $pids "$(mpirun_pid $job)"; wait $job 2>/dev/null
    if h5dump -H "$work/killall/stats.h5" >/dev/null 2>&1; then pass "stats.h5 opens after kill -9 of every rank"; else fail "stats.h5 unreadable after kill -9"; fi
    if sweep 4 "$work/killall"; then same_stats "$work/killall" "kill -9 of the whole job mid-write, resumed"; else fail "resume after kill -9 of the job: $(tail -n 3 "$work/killall/out")"; fi
else
    fail "kill -9 of the job: the sweep never journalled 4 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- quarantine: a shard in flight in --crash-limit killed runs is not retried -------------
write_config "$work/quar" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=400 sweep 4 "$work/quar" & job=$!
if wait_done "$work/quar" 2; then
    kill -9 $(rank_pid "$work/quar" 0) $(rank_pid "$work/quar" 1) $(rank_pid "$work/quar" 2) $(rank_pid "$work/quar" 3) "$(mpirun_pid $job)"
    wait $job 2>/dev/null
    inflight=$("$MEMPROF" status "$work/quar/stats.h5" | sed -n 's/^in flight when the last run stopped: \([0-9]*\) cells/\1/p')
    sweep 4 "$work/quar" --crash-limit 1; rc=$?
    q=$("$MEMPROF" status "$work/quar/stats.h5" | sed -n 's/.* failed, \([0-9]*\) quarantined.*/\1/p')
    if [ $rc = 4 ] && [ "${q:-0}" -gt 0 ] && [ "${inflight:-0}" -gt 0 ]; then pass "crash limit 1: the $inflight in-flight cells' shards are quarantined ($q cells), exit 4"
    else fail "quarantine: exit $rc, $inflight in flight, ${q:-?} quarantined"; fi
    sweep 4 "$work/quar"; rc=$?
    "$MEMPROF" status "$work/quar/stats.h5" | grep -q "a resume will: do nothing (every cell is done or quarantined)" && [ $rc = 4 ] \
        && pass "quarantined cells stay skipped on the next run" || fail "quarantined cells retried (exit $rc)"
else
    fail "quarantine: the sweep never journalled 2 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- USR2 drain, then a torn journal tail, then resume with 2 ranks ----------------------
write_config "$work/drain" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=400 sweep 4 "$work/drain" & job=$!
if wait_done "$work/drain" 3; then
    kill -USR2 "$(mpirun_pid $job)"
    wait $job; rc=$?
    [ $rc = 3 ] && pass "USR2 drains: exit status 3" || fail "USR2: exit status $rc, want 3: $(tail -n 3 "$work/drain/out")"
    grep -q "run the same command again to resume" "$work/drain/out" && pass "drain message" || fail "drain message missing"
    "$MEMPROF" status "$work/drain/stats.h5" | grep -q "drained by a signal" && pass "status says drained" || fail "status after drain"
    # Tear the journal: drop the END record (14 bytes) and half of the last DONE record.
    size=$(stat -c %s "$work/drain/stats.h5.journal")
    truncate -s $((size - 14 - 25)) "$work/drain/stats.h5.journal"
    "$MEMPROF" status "$work/drain/stats.h5" | grep -q "torn tail of [0-9]* bytes" && pass "status reports the torn journal tail" \
        || fail "torn tail not reported: $("$MEMPROF" status "$work/drain/stats.h5" | grep journal)"
    if sweep 2 "$work/drain"; then same_stats "$work/drain" "USR2 drain + torn journal record, resumed with 2 ranks"
    else fail "resume after drain: $(tail -n 3 "$work/drain/out")"; fi
else
    fail "USR2: the sweep never journalled 3 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- TERM to every rank (what srun does at the time limit) drains too ----------------------
write_config "$work/term" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=400 sweep 4 "$work/term" & job=$!
if wait_done "$work/term" 3; then
    kill -TERM $(rank_pid "$work/term" 0) $(rank_pid "$work/term" 1) $(rank_pid "$work/term" 2) $(rank_pid "$work/term" 3)
    wait $job; rc=$?
    [ $rc = 3 ] && pass "TERM to every rank drains: exit status 3" || fail "TERM to the ranks: exit status $rc, want 3: $(tail -n 3 "$work/term/out")"
    if sweep 3 "$work/term"; then same_stats "$work/term" "TERM drain, resumed with 3 ranks"; else fail "resume after TERM: $(tail -n 3 "$work/term/out")"; fi
else
    fail "TERM: the sweep never journalled 3 tasks"; kill -9 $job 2>/dev/null; wait $job
fi

# --- a corrupt checkpoint fails its tasks only -------------------------------------------
cp -r "$work/ckpt" "$work/badckpt"
truncate -s 1000 "$work/badckpt/step1000/model.safetensors"
write_config "$work/corrupt" "$work/badckpt"
sweep 4 "$work/corrupt"; rc=$?
[ $rc = 4 ] && pass "corrupt checkpoint: exit status 4 (finished with failed tasks)" || fail "corrupt checkpoint: exit status $rc, want 4"
$REF compare "$work/corrupt/stats.h5" "sweep: corrupt checkpoint: the other checkpoints complete, its row stays NaN" \
    "0:$work/score0.csv" "1:nan" "2:$work/score2.csv"
"$MEMPROF" status "$work/corrupt/stats.h5" | grep -q "failures:.*step1000" && pass "status names the failed checkpoint and its reason" \
    || fail "status after corrupt checkpoint: $("$MEMPROF" status "$work/corrupt/stats.h5")"

# --- refusals -----------------------------------------------------------------------------
write_config "$work/half" "$work/ckpt"
MEMPROF_TEST_TASK_DELAY_MS=300 sweep 3 "$work/half" & job=$!
wait_done "$work/half" 2; kill -USR2 "$(mpirun_pid $job)"; wait $job
before=$(md5sum <"$work/half/stats.h5")
expect_refusal "resume with another model name is refused, naming it" "$work/half" "model.name changed" model.name=other
expect_refusal "resume with another backend/precision is refused, naming it" "$work/half" "precision changed" backend=cuda
expect_refusal "resume with other checkpoint steps is refused" "$work/half" "checkpoints.steps changed" checkpoints.steps=0:3000:1000
[ "$before" = "$(md5sum <"$work/half/stats.h5")" ] && pass "refused resumes leave stats.h5 untouched" || fail "a refused resume modified stats.h5"
mv "$work/half/stats.h5.journal" "$work/half/journal.moved"
expect_refusal "stats.h5 without its journal is refused" "$work/half" "exists but its journal"

# A journal from before the kernel settings were recorded (its HEADER without lm_head,
# attention, up_gemm, residual_gemm and statistics_sms, rewritten here with a fresh checksum): resumed, with a warning, to the same /stats.
write_config "$work/legacy" "$work/ckpt"
cp "$work/half/stats.h5" "$work/legacy/stats.h5"
python3 - "$work/half/journal.moved" "$work/legacy/stats.h5.journal" <<'PY'
import struct, sys, xxhash
data = open(sys.argv[1], "rb").read()
magic, length, _ = struct.unpack_from("<III", data, 0)
payload = data[12:12 + length]
(size,) = struct.unpack_from("<I", payload, 1)
lines = payload[5:5 + size].decode().splitlines()
kept = [line for line in lines
        if not line.startswith(("lm_head=", "attention=", "up_gemm=", "residual_gemm=", "statistics_sms="))]
assert payload[0] == 1 and len(kept) == len(lines) - 5, "HEADER with the five keys expected"
text = "".join(line + "\n" for line in kept).encode()
header = bytes([1]) + struct.pack("<I", len(text)) + text + payload[5 + size:]
record = struct.pack("<III", magic, len(header), xxhash.xxh32(header, seed=0).intdigest()) + header
open(sys.argv[2], "wb").write(record + data[12 + length:])
PY
if sweep 2 "$work/legacy" && grep -q "the journal does not record the LM head kernel (MEMPROF_LM_HEAD)" \
        "$work/legacy/out" "$work/legacy/stats.h5.logs/"*.log; then
    same_stats "$work/legacy" "a journal without the kernel settings: resumed with a warning"
else
    fail "legacy journal: $(tail -n 3 "$work/legacy/out")"
fi

# --- bad input: one line from rank 0, exit 1, nothing created ------------------------------
write_config "$work/bad" "$work/ckpt"
expect_refusal "a missing panel is one error line naming it" "$work/bad" "no-such-panel.h5" panel="$work/no-such-panel.h5"
[ ! -e "$work/bad/stats.h5" ] && [ ! -e "$work/bad/stats.h5.journal" ] && pass "nothing written when the panel is missing" || fail "stats.h5 or its journal created despite a missing panel"
expect_refusal "an unknown configuration key is one error line" "$work/bad" "unknown key" shard_sise=3

# A journal torn inside its header record (killed at the very start): the rerun starts over.
write_config "$work/torn0" "$work/ckpt"
printf 'MPJ1\x40\x00\x00' >"$work/torn0/stats.h5.journal"; : >"$work/torn0/stats.h5"
if sweep 2 "$work/torn0"; then same_stats "$work/torn0" "journal torn inside its header: fresh start"; else fail "torn header: $(tail -n 2 "$work/torn0/out")"; fi
