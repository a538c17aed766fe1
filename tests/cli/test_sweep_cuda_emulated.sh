#!/usr/bin/env bash
# `memprof sweep` with `backend: cuda`, run without a GPU by the emulated program
# ($BUILD/memprof-emulated: every kernel on the CPU emulator, the CUDA runtime and cuBLASLt
# on the CPU; design.md, "The whole CUDA backend without a GPU"): the GPU path of a sweep —
# device selection per worker, checkpoints loaded by the workers' prefetch threads while
# their main threads score — end to end, with /stats equal bit for bit to single-process `memprof score --backend cuda`
# of the same program, in fp16 and bf16; more workers than GPUs refused at the start; a
# killed sweep resumed to the same /stats; a resume with another LM head kernel refused.
set -u
BUILD=${BUILD:-build}
EMULATED=$BUILD/memprof-emulated
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
pass() { echo "PASS sweep (cuda, emulated): $1"; }
fail() { echo "FAIL sweep (cuda, emulated): $1"; }
skip() { echo "SKIP sweep (cuda, emulated): $1"; }
[ -x "$EMULATED" ] || { skip "$EMULATED not built (CUDA=0 or a sanitizer build)"; exit 0; }
for tool in mpirun h5diff python3; do
    command -v $tool >/dev/null || { skip "$tool not installed"; exit 0; }
done
python3 -c "import h5py, safetensors, numpy" 2>/dev/null || { skip "python h5py/safetensors/numpy missing (scripts/requirements.txt)"; exit 0; }
work=${KEEP_WORK:-$(mktemp -d)}; [ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
REF="python3 tests/cli/sweep_reference.py"

for s in 0 1000; do
    python3 scripts/make-random-checkpoint.py --size tiny --out "$work/ckpt/step$s" --seed $((s + 11)) >/dev/null || { fail "make checkpoints"; exit 1; }
done
"$EMULATED" panel --synthetic --train-rows 9 --heldout-rows 3 --sequence-length 40 --out "$work/panel.h5" >/dev/null 2>&1 \
    || { fail "memprof panel --synthetic"; exit 1; }
$REF tokens "$work/panel.h5" "$work/tokens.txt"
write_config() {  # dir, precision
    mkdir -p "$1"
    cat >"$1/sweep.yaml" <<CONF
model:
  name: tiny-neox
  checkpoint: $work/ckpt/step{step}
checkpoints:
  steps: "0:1000:1000"
panel: $work/panel.h5
output: $1/stats.h5
backend: cuda
precision: $2
shard_size: 4
batch_size: 3
CONF
}
sweep() {  # np, dir
    timeout 300 mpirun -np "$1" --oversubscribe "$EMULATED" sweep "$2/sweep.yaml" --progress-interval 1 >"$2/out" 2>&1
}

for precision in fp16 bf16; do
    dir=$work/$precision
    write_config "$dir" $precision
    if sweep 2 "$dir"; then pass "$precision sweep (coordinator + one worker: the emulated node has one GPU) exits 0"; else fail "$precision sweep: $(tail -n 5 "$dir/out")"; continue; fi
    specs=()
    for c in 0 1; do
        "$EMULATED" score --backend cuda --precision $precision --checkpoint "$work/ckpt/step$((c * 1000))" \
            --tokens "$work/tokens.txt" >"$dir/score$c.csv" 2>"$dir/score.err" || fail "score step$((c * 1000)): $(cat "$dir/score.err")"
        specs+=("$c:$dir/score$c.csv")
    done
    $REF compare "$dir/stats.h5" "sweep (cuda, emulated): $precision /stats equals memprof score --backend cuda bit for bit" "${specs[@]}" \
        | sed 's/^\(PASS\|FAIL\) sweep: /\1 /'
done

# More workers on the node than it has GPUs: refused at the start, on every rank, with one
# line, before any task (or checkpoint) is failed for the worker without a device.
dir=$work/two-workers
write_config "$dir" fp16
sweep 3 "$dir"; rc=$?
if [ $rc = 1 ] && [ "$(grep -c '^memprof sweep:' "$dir/out")" = 1 ] &&
    grep -q "^memprof sweep: .*cuda backend: device 1 requested but this node has 1 GPU (one worker rank per GPU" "$dir/out" &&
    ! grep -q "task failed" "$dir/stats.h5.logs/"*.log 2>/dev/null; then
    pass "a worker without a GPU of its own stops the sweep at its start, with one line"
else
    fail "two workers on one GPU: status $rc, $(grep -m1 '^memprof sweep:' "$dir/out")"
fi

# A sweep killed after its first journalled cell, resumed: the same /stats.
dir=$work/resumed
write_config "$dir" fp16
(sweep 2 "$dir") &
job=$!
for _ in $(seq 600); do
    [ "$("$EMULATED" status "$dir/stats.h5" --records 2>/dev/null | grep -c '^DONE')" -ge 1 ] && break
    sleep 0.1
done
pkill -9 -f "memprof-emulated sweep $dir/sweep.yaml"
wait $job 2>/dev/null
if sweep 2 "$dir"; then
    ok=1
    for m in sup_seq acc_seq entr_seq avg_rank; do
        h5diff "$work/fp16/stats.h5" "$dir/stats.h5" "/stats/$m" >/dev/null 2>&1 || { ok=0; fail "resumed: /stats/$m differs"; }
    done
    [ $ok = 1 ] && pass "killed with kill -9 and resumed: /stats identical to the uninterrupted sweep"
else
    fail "resume: $(tail -n 5 "$dir/out")"
fi

# The journal records the kernel settings (unset: auto); a resume with another LM head, up or
# residual GEMM would mix two kernels' bits in one file, so it is refused with one line naming the change.
cp "$dir/stats.h5" "$work/resumed-stats.h5"
refused_resume() {  # usage: refused_resume VARIABLE VALUE WHAT
    env "$1=$2" timeout 300 mpirun -np 2 --oversubscribe -x "$1" "$EMULATED" sweep "$dir/sweep.yaml" \
        >"$dir/out-$2" 2>&1
    local rc=$?
    if [ $rc != 0 ] && [ "$(grep -c '^memprof sweep:' "$dir/out-$2")" = 1 ] &&
        grep -q "resume refused: $3 ($1) changed (the journal has 'auto', the configuration gives '$2')" \
            "$dir/out-$2" && cmp -s "$dir/stats.h5" "$work/resumed-stats.h5"; then
        pass "a resume with another $1 is refused with one line, the file untouched"
    else
        fail "resume with $1=$2: status $rc, $(grep -m1 '^memprof sweep:' "$dir/out-$2")"
    fi
}
refused_resume MEMPROF_LM_HEAD chunked "the LM head kernel"
refused_resume MEMPROF_UP_GEMM fused-gelu-pingpong "the up GEMM kernel"
refused_resume MEMPROF_RESIDUAL_GEMM fused "the residual GEMM kernel"
