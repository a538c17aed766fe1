#!/usr/bin/env bash
# The GPU check, run on the lent GPU machine in ONE call (see the device notes in
# docs/performance.md): conformance of the CUDA backend against the CPU reference, then the
# HF baseline and `memprof bench` in the same call, on the same card; the one-rank NCCL weight
# sharing test (test_nccl_share: NCCL refuses two ranks on one GPU, so only the one-rank case
# runs on a one-GPU machine).
#
# Here (no GPU):  make BUILD=build-device CUDA_ARCH=90 BLAS=none build-device/memprof build-device/tests/test_backend_conformance \
#                      build-device/tests/test_nccl_share
#                 scripts/bundle-runtime.sh .rt build-device/memprof build-device/tests/test_backend_conformance build-device/tests/test_nccl_share
# There:          carry = [build-device/memprof, build-device/tests/test_backend_conformance, build-device/tests/test_nccl_share, .rt];
#                 BUILD=build-device scripts/device-check.sh; results land in $OUT.
#
# usage: scripts/device-check.sh [SIZES=70m,160m,410m]
set -u
BUILD=${BUILD:-build}
sizes=${1:-70m,160m,410m}
OUT=${OUT:-out/device}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.rt:${LD_LIBRARY_PATH:-}
log=$OUT/device-check.log
exec > >(tee "$log") 2>&1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv
echo "== conformance (CPU fp32 vs CUDA fp16/bf16)"
work=$(mktemp -d)
python3 scripts/make-random-checkpoint.py --size 70m --out "$work/random-70m" --seed 3
MEMPROF_CONFORMANCE_CHECKPOINTS="$work/random-70m" timeout 300 "$BUILD"/tests/test_backend_conformance >"$OUT/conformance.txt" 2>&1
grep -v '^PASS' "$OUT/conformance.txt"
echo "conformance: $(grep -c '^PASS' "$OUT/conformance.txt") passed, $(grep -c '^FAIL' "$OUT/conformance.txt") failed"
echo "== NCCL weight sharing, one rank (self send/recv of a CUDA model's weights)"
# NCCL is loaded with dlopen: libnccl.so.2 from the loader path, else the one a PyTorch install carries.
if [ -z "${MEMPROF_NCCL_LIBRARY:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2'; then
    lib=$(python3 -c "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'lib', 'libnccl.so.2'))" 2>/dev/null)
    [ -n "$lib" ] && [ -f "$lib" ] && export MEMPROF_NCCL_LIBRARY=$lib
fi
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 "$BUILD"/tests/test_nccl_share >"$OUT/nccl-share.txt" 2>&1
cat "$OUT/nccl-share.txt"
echo "== HF baseline (bf16, SDPA, fp32 logits + statistics)"
timeout 300 python3 scripts/hf_baseline.py --sizes "$sizes" --json "$OUT/hf.json"
echo "== memprof bench"
for size in ${sizes//,/ }; do
    for precision in fp16 bf16; do
        timeout 120 "$BUILD"/memprof bench --backend cuda --size "$size" --random-weights --precision "$precision"
    done
done
