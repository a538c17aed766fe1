#!/usr/bin/env bash
# Where the CUDA backend's time goes, on the GPU machine in one call: `memprof bench` with
# MEMPROF_CUDA_PROFILE=1 (GPU time per forward step, from CUDA events) for each size, then
# Nsight Compute's speed-of-light and occupancy sections for the attention and statistics
# kernels of a small 70m batch. Carry and build as for device-check.sh.
#
# usage: BUILD=build-device scripts/device-profile.sh [SIZE:SEQUENCES,...]
#        (default 70m:64,410m:64,1.4b:16,2.8b:8,6.9b:8,12b:8); results in $OUT
#        (profile.txt, ncu.txt, upload.txt when test_cuda_upload is carried)
set -u
BUILD=${BUILD:-build}
plan=${1:-70m:64,410m:64,1.4b:16,2.8b:8,6.9b:8,12b:8}
OUT=${OUT:-out/device}; mkdir -p "$OUT"
budget=${BUDGET:-300}
. "$(dirname "$0")/device-env.sh"

main() {
    date -u
    if [ ! -d .rt ] && [ -f .rt.tar.gz ]; then tar xzf .rt.tar.gz; fi
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
    resolve_libs
    for item in ${plan//,/ }; do
        size=${item%%:*} sequences=${item#*:}
        if [ "$(left)" -lt 30 ]; then echo "skipped $size: budget"; continue; fi
        start=$SECONDS
        MEMPROF_CUDA_PROFILE=1 run_memprof "$(cap 90)" "$BUILD"/memprof bench --backend cuda --size "$size" \
            --random-weights --precision fp16 --sequences "$sequences" --repeats 1 2>&1 | tee -a "$OUT/profile.txt"
        echo "  (rc ${PIPESTATUS[0]}, $((SECONDS - start)) s)"
    done
    if [ -x "$BUILD"/tests/test_cuda_upload ] && [ "$(left)" -gt 30 ]; then
        run_memprof "$(cap 60)" "$BUILD"/tests/test_cuda_upload >"$OUT/upload.txt" 2>&1
        echo "upload test: rc $?, $(grep -c '^PASS' "$OUT/upload.txt") passed, $(grep -c '^FAIL' "$OUT/upload.txt") failed"
        grep '^FAIL' "$OUT/upload.txt" | cut -c1-400 | head -8
    fi
    if command -v ncu >/dev/null && [ "$(left)" -gt 40 ]; then
        run_memprof "$(cap 120)" ncu --clock-control none --kernel-name regex:'flash|statistics|layernorm|gelu|residual|rotary' \
            --launch-count 6 --section SpeedOfLight --section Occupancy --section LaunchStats \
            "$BUILD"/memprof bench --backend cuda --size 70m --random-weights --sequences 8 --repeats 1 >"$OUT/ncu.txt" 2>&1
        echo "ncu: rc $?"
        grep -E '^  [a-z_]+.*\(|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Shared Memory Config' \
            "$OUT/ncu.txt" | head -80
    fi
    echo "== done in $SECONDS s"
}
main 2>&1 | tee "$OUT/device-profile.log"
