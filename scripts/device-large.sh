#!/usr/bin/env bash
# The large-model checks of "CUDA backend II", on the GPU machine in one call after
# device-check.sh: `memprof bench` for 1.4b–12b with the default kernels (fp16; each also with
# MEMPROF_ATTENTION=$COMPARE_ATTENTION and with the BASE binary when given; the BF16_SIZES
# also bf16), 12b under --max-gpu-memory 40 next to uncapped on the same 64 sequences, the
# ATTENTION_RUNS (other attention kernels at chosen sizes), all with MEMPROF_CUDA_PROFILE=1
# (GPU time per forward step), then Nsight Compute's speed-of-light for the attention kernel
# and the GEMMs of one batch of each NCU_SIZES (when the budget reaches it). Carry and build
# as for device-check.sh.
#
# usage: BUILD=build-device BUDGET=150 [HF_LARGE=1] scripts/device-large.sh; results in $OUT/large.log
#        (HF_LARGE=1: then the HF baseline for 1.4b–12b, when 45 s of the budget are left;
#         COMPARE_ATTENTION=mma: each size also with that attention kernel, same binary;
#         COMPARE_ENV="MEMPROF_UP_GEMM=fused-gelu MEMPROF_UP_GEMM=fused-gelu,MEMPROF_RESIDUAL_GEMM=fused":
#         each size also with each of these settings (VARIABLE=VALUE, comma-separated), same binary;
#         BF16_SIZES="1.4b 12b": these also in bf16 (default 12b);
#         ATTENTION_RUNS="wgmma-tma:2.8b mma:1b ...": KERNEL:SIZE benches (ATTENTION_RUNS="": none; unset: wgmma-tma,
#         wgmma-pingpong, wgmma and wgmma-64 at 1.4b and the first three at 12b);
#         BATCH_RUNS="1.4b:2 1.4b:8": SIZE:SEQUENCES benches with that device batch (--batch);
#         TARGET_SIZES="2.8b 6.9b": these in fp16 and bf16 as the targets are measured: the bench's
#         default 64 sequences, no step profile (6.9b on 16 sequences under the profile: −2.2%);
#         NCU_SIZES="1.4b 2.8b 6.9b 12b": Nsight Compute for each, default 1.4b only, with the
#         attention kernel NCU_ATTENTION (MEMPROF_ATTENTION, default auto, the default kernel) and
#         the up GEMM NCU_UP_GEMM (MEMPROF_UP_GEMM, default auto);
#         NCU_DETAIL=1: then where each attention kernel's time goes at 1.4b (memory tables, warp
#         stalls, scheduler, occupancy: $OUT/ncu-attention-KERNEL-SIZE.txt; NCU_KERNELS, default
#         "mma wgmma-tma wgmma-pingpong wgmma wgmma-64"; NCU_DETAIL_SIZES, default "1.4b": "2.8b"
#         for head dim 80, "410m" for 64; then, budget permitting, each stall reason and pipe
#         utilisation: $OUT/ncu-attention-stalls-KERNEL-SIZE.txt);
#         NCU_UP_GEMMS="fused-gelu fused-gelu-pingpong": where each up GEMM + GELU kernel's time goes
#         at 1.4b, and the fused residual GEMM's ($OUT/ncu-KERNEL.txt); NCU_ONLY=1: only that;
#         BASE=build-carry/base/memprof: each fp16 size also with a binary from an earlier commit;
#         EXTRA=1: 1.4b with wgmma-serial attention and the fused LM heads, 2.8b and 6.9b with wgmma)
set -u
BUILD=${BUILD:-build}
OUT=${OUT:-out/device}; mkdir -p "$OUT"
budget=${BUDGET:-150}
. "$(dirname "$0")/device-env.sh"

bench() {  # usage: bench SECONDS ARGS... (skipped when the budget is short)
    local seconds=$1; shift
    if [ "$(left)" -lt 20 ]; then echo "skipped bench $*: budget"; return; fi
    # An attention kernel whose test timed out in device-check.sh (it may hang) is left out.
    if [ -n "${MEMPROF_ATTENTION:-}" ] && [ -f "$OUT/untried-attention" ] &&
       [[ " $(cat "$OUT/untried-attention") " == *" $MEMPROF_ATTENTION "* ]]; then
        echo "skipped bench $* ($MEMPROF_ATTENTION attention): its test timed out"; return
    fi
    if [ -f "$OUT/untried-up-gemm" ] && { [[ " $(cat "$OUT/untried-up-gemm") " == *" ${MEMPROF_UP_GEMM:-auto} "* ]] ||
                                           [ "${MEMPROF_RESIDUAL_GEMM:-auto}" = fused ]; }; then
        echo "skipped bench $* (the fused GEMMs): the layers test timed out or failed"; return
    fi
    local start=$SECONDS
    MEMPROF_CUDA_PROFILE=1 with_gpu_samples run_memprof "$(cap "$seconds")" "$BUILD"/memprof bench --backend cuda \
        --random-weights "$@" 2>&1 |
        sed 's/^[0-9T:Z-]* warn: //'
    echo "  (rc ${PIPESTATUS[0]}, $((SECONDS - start)) s)"
}

# The sequences a size's bench runs on (12b fp16: 64, the 40 GB comparison's; bf16: 16).
sequences_of() {
    case $1 in 12b) [ "$2" = fp16 ] && echo 64 || echo 16 ;; 6.9b) echo 16 ;; *) echo 32 ;; esac
}

# usage: ab SECONDS ARGS...: bench, then (with COMPARE_ATTENTION, COMPARE_ENV) the same with
# that attention kernel or those settings, and (with BASE) the same with the baseline binary.
ab() {
    local seconds=$1; shift
    bench "$seconds" "$@"
    if [ -n "${COMPARE_ATTENTION:-}" ]; then
        echo "-- the same with MEMPROF_ATTENTION=$COMPARE_ATTENTION"
        MEMPROF_ATTENTION=$COMPARE_ATTENTION bench "$seconds" "$@"
    fi
    for settings in ${COMPARE_ENV:-}; do  # VARIABLE=VALUE[,VARIABLE=VALUE...]
        echo "-- the same with ${settings//,/ }"
        (for assignment in ${settings//,/ }; do export "$assignment"; done; bench "$seconds" "$@")
    done
    if [ -n "${BASE:-}" ] && [ "$(left)" -ge 20 ]; then
        echo "-- the same with the baseline binary $BASE"
        MEMPROF_CUDA_PROFILE=1 run_memprof "$(cap "$seconds")" "$BASE" bench --backend cuda --random-weights "$@" 2>&1 |
            sed 's/^[0-9T:Z-]* warn: //'
    fi
}

# Where the fused GEMMs' time goes (cuda_gemm_fused.cu), one 1.4b layer: for each up GEMM
# in NCU_UP_GEMMS, its kernel and then the fused residual GEMM's (the first two
# gemm_fused_kernel launches of a forward: the up GEMM runs before the dense + down one).
ncu_fused_gemms() {
    for up in ${NCU_UP_GEMMS:-}; do
        command -v ncu >/dev/null || { echo "skipped ncu detail: not installed"; break; }
        if [ "$(left)" -lt 30 ] || [ -f "$OUT/untried-up-gemm" ]; then echo "skipped ncu detail $up: budget or untried"; continue; fi
        echo "== ncu detail: the $up up GEMM and the fused residual GEMM of one 1.4b layer [$(left) s left]"
        MEMPROF_UP_GEMM=$up MEMPROF_RESIDUAL_GEMM=fused run_memprof "$(cap 60)" ncu --clock-control none \
            --kernel-name regex:gemm_fused --launch-count 2 --section SpeedOfLight --section MemoryWorkloadAnalysis \
            --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section SchedulerStats --section Occupancy \
            --section ComputeWorkloadAnalysis --section LaunchStats "$BUILD"/memprof bench --backend cuda --size 1.4b \
            --random-weights --sequences 4 --repeats 1 >"$OUT/ncu-$up.txt" 2>&1
        echo "ncu: rc $?"
        grep -E '  gemm_fused|Duration|Throughput|Hit Rate|Stall|Warp Cycles Per|Issued Warp|No Eligible|Achieved Occupancy|Bank|Registers Per' \
            "$OUT/ncu-$up.txt" | cut -c1-150 | head -40
    done
}

main() {
    if [ ! -d .rt ] && [ -f .rt.tar.gz ]; then tar xzf .rt.tar.gz; fi
    resolve_libs
    if [ "${NCU_ONLY:-0}" = 1 ]; then ncu_fused_gemms; return; fi
    echo "== large sizes, fp16${COMPARE_ATTENTION:+, each also with MEMPROF_ATTENTION=$COMPARE_ATTENTION}${BASE:+, each also with $BASE} [$(left) s left]"
    ab 40 --size 1.4b --sequences 32
    ab 40 --size 2.8b --sequences 32
    ab 50 --size 6.9b --sequences 16
    echo "== 12b on 64 sequences: uncapped${COMPARE_ATTENTION:+ (and $COMPARE_ATTENTION)}${BASE:+ (and $BASE)}, then under --max-gpu-memory 40 [$(left) s left]"
    ab 60 --size 12b --sequences 64 --repeats 1
    bench 60 --size 12b --sequences 64 --repeats 1 --max-gpu-memory 40
    for size in ${TARGET_SIZES:-}; do
        for precision in fp16 bf16; do
            if [ "$(left)" -lt 30 ]; then echo "skipped $size $precision on 64 sequences: budget"; continue; fi
            echo "== $size $precision on 64 sequences, not profiled [$(left) s left]"
            with_gpu_samples run_memprof "$(cap 60)" "$BUILD"/memprof bench --backend cuda --random-weights \
                --size "$size" --precision "$precision" 2>&1
        done
    done
    for size in ${BF16_SIZES:-12b}; do
        echo "== $size bf16 [$(left) s left]"
        bench 60 --size "$size" --sequences "$(sequences_of "$size" bf16)" --precision bf16
    done
    runs=${ATTENTION_RUNS-wgmma-tma:1.4b wgmma-pingpong:1.4b wgmma:1.4b wgmma-tma:12b wgmma-pingpong:12b wgmma-64:1.4b wgmma:12b}
    [ -n "$runs" ] && echo "== other attention kernels: $runs [$(left) s left]"
    for run in $runs; do
        kernel=${run%%:*} size=${run#*:}
        echo "-- $size, MEMPROF_ATTENTION=$kernel"
        MEMPROF_ATTENTION=$kernel bench 60 --size "$size" --sequences "$(sequences_of "$size" fp16)" \
            $([ "$size" = 12b ] && echo --repeats 1)
    done
    # Smaller device batches (fewer rows per GEMM, activations that stay in L2): where the
    # GELU and the residual passes would gain from running the MLP in token chunks.
    for run in ${BATCH_RUNS:-}; do
        size=${run%%:*} batch=${run#*:}
        echo "-- $size, --batch $batch"
        bench 60 --size "$size" --sequences "$(sequences_of "$size" fp16)" --batch "$batch"
    done
    if [ "${EXTRA:-0}" = 1 ]; then
        echo "== 1.4b: wgmma-serial attention, the fused LM heads; 2.8b and 6.9b with wgmma attention [$(left) s left]"
        MEMPROF_ATTENTION=wgmma-serial bench 40 --size 1.4b --sequences 32
        MEMPROF_LM_HEAD=fused bench 40 --size 1.4b --sequences 32
        MEMPROF_LM_HEAD=fused MEMPROF_ATTENTION=wgmma bench 40 --size 1.4b --sequences 32
        MEMPROF_LM_HEAD=fused-wgmma MEMPROF_ATTENTION=wgmma bench 40 --size 1.4b --sequences 32
        MEMPROF_ATTENTION=wgmma bench 40 --size 2.8b --sequences 32
        MEMPROF_ATTENTION=wgmma bench 50 --size 6.9b --sequences 16
    fi
    if [ "${HF_LARGE:-0}" = 1 ] && [ "$(left)" -gt 45 ]; then
        # The HF baseline at these sizes in the same call (the paper's batches: 32, 16, 12, 8).
        echo "== HF baseline 1.4b–12b (bf16, SDPA, fp32 logits + statistics) [$(left) s left]"
        PYTHONUNBUFFERED=1 timeout "$(cap 150)" python3 scripts/hf_baseline.py --sizes 1.4b,2.8b,6.9b,12b \
            --json "$OUT/hf-large.json"
        echo "rc $?"
    fi
    if [ "${NCU_DETAIL:-0}" = 1 ] && command -v ncu >/dev/null; then
        for run in $(for size in ${NCU_DETAIL_SIZES:-1.4b}; do
                         for kernel in ${NCU_KERNELS:-mma wgmma-tma wgmma-pingpong wgmma wgmma-64}; do
                             echo "$kernel:$size"; done; done); do
            kernel=${run%%:*} size=${run#*:}
            if [ "$(left)" -lt 30 ]; then echo "skipped ncu detail $kernel $size: budget"; continue; fi
            if [ -f "$OUT/untried-attention" ] && [[ " $(cat "$OUT/untried-attention") " == *" $kernel "* ]]; then
                echo "skipped ncu detail $kernel: its test timed out"; continue
            fi
            echo "== ncu detail: the $kernel attention kernel of one $size layer [$(left) s left]"
            MEMPROF_ATTENTION=$kernel run_memprof "$(cap 60)" ncu --clock-control none --kernel-name regex:flash \
                --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
                --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section SchedulerStats \
                --section Occupancy --section ComputeWorkloadAnalysis "$BUILD"/memprof bench --backend cuda \
                --size "$size" --random-weights --sequences 4 --repeats 1 >"$OUT/ncu-attention-$kernel-$size.txt" 2>&1
            echo "ncu: rc $?"
            grep -E 'Duration|Throughput|Hit Rate|Stall|Warp Cycles Per|Issued Warp|No Eligible|Achieved Occupancy|Bank' \
                "$OUT/ncu-attention-$kernel-$size.txt" | cut -c1-150 | head -40
            # What the sections print only as charts: each stall reason's cycles per issued
            # instruction and each pipe's share of its peak (is the softmax's MUFU.EX2, the
            # tensor pipe or a wait the limit?). A separate run: a metric name this ncu lacks
            # costs only this one.
            if [ "$(left)" -ge 30 ]; then
                MEMPROF_ATTENTION=$kernel run_memprof "$(cap 45)" ncu --clock-control none --kernel-name regex:flash \
                    --launch-count 1 --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,regex:sm__inst_executed_pipe_.*\.avg\.pct_of_peak_sustained_active,regex:sm__pipe_.*_cycles_active\.avg\.pct_of_peak_sustained_active' \
                    "$BUILD"/memprof bench --backend cuda --size "$size" --random-weights --sequences 4 --repeats 1 \
                    >"$OUT/ncu-attention-stalls-$kernel-$size.txt" 2>&1
                echo "ncu stalls: rc $?"
                grep -E 'stalled|pipe' "$OUT/ncu-attention-stalls-$kernel-$size.txt" | awk '$NF + 0 >= 0.05' | cut -c1-150 | head -40
            fi
        done
    fi
    ncu_fused_gemms
    # Nsight Compute's speed-of-light for the first kernels of one batch (the first layer's
    # GEMMs and attention) of each size in NCU_SIZES (default 1.4b), while the budget lasts.
    for size in ${NCU_SIZES:-1.4b}; do
        command -v ncu >/dev/null || { echo "skipped ncu: not installed"; break; }
        if [ "$(left)" -lt 30 ]; then echo "skipped ncu $size: budget"; continue; fi
        echo "== ncu: attention and GEMMs of one $size batch [$(left) s left]"
        MEMPROF_ATTENTION=${NCU_ATTENTION:-auto} MEMPROF_UP_GEMM=${NCU_UP_GEMM:-auto} run_memprof "$(cap 60)" ncu --clock-control none --kernel-name regex:'flash|gemm|xmma|sm90' --launch-count 5 \
            --section SpeedOfLight "$BUILD"/memprof bench --backend cuda --size "$size" --random-weights --sequences 4 \
            --repeats 1 >"$OUT/ncu-$size.txt" 2>&1
        echo "ncu: rc $?"
        grep -E '^  [a-zA-Z_].*\(|Duration|Compute \(SM\) Throughput|Memory Throughput' "$OUT/ncu-$size.txt" | cut -c1-160 | head -40
    done
    echo "== done in $SECONDS s"
}
main 2>&1 | tee "$OUT/large.log"
