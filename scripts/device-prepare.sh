#!/usr/bin/env bash
# Builds, here, everything a GPU device call carries (docs/performance.md, "GPU checks"):
# memprof and the eight GPU tests for sm_90 without OpenBLAS in build-device/, the runtime
# libraries they need as .rt.tar.gz, and (with BASE=COMMIT) the same memprof from an earlier
# commit in build-base/ for a same-card A/B. Ends with the sizes and the `carry` list.
#
# usage: [BASE=2240dfc] [JOBS=2] scripts/device-prepare.sh
set -eu
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
tests="test_backend_conformance test_nccl_share test_cuda_upload test_cuda_attention test_cuda_wgmma test_cuda_lm_head
       test_cuda_statistics test_cuda_layers"
targets="build-device/memprof"
for t in $tests; do targets="$targets build-device/tests/$t"; done
make -j"$jobs" BUILD=build-device CUDA_ARCH=90 BLAS=none $targets
scripts/bundle-runtime.sh .rt $targets
carry="$targets .rt.tar.gz"
if [ -n "${BASE:-}" ]; then
    base_tree=/tmp/memprof-base-$BASE
    [ -d "$base_tree" ] || git worktree add --detach "$base_tree" "$BASE"
    make -C "$base_tree" -j"$jobs" BUILD=build-device CUDA_ARCH=90 BLAS=none build-device/memprof
    mkdir -p build-base
    cp "$base_tree/build-device/memprof" build-base/memprof
    carry="$carry build-base/memprof"
fi
# What travels: the tracked tree plus the carried files (the limit is 64 MiB).
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb $carry | tail -1 | cut -f1)
echo "tracked files $((tracked >> 20)) MiB + carried $((carried >> 20)) MiB = $(((tracked + carried) >> 20)) MiB (limit 64)"
printf 'carry: ['
first=1
for path in $carry; do
    [ $first -eq 1 ] || printf ', '
    printf '"%s"' "$path"
    first=0
done
printf ']\n'
