#!/usr/bin/env bash
# Builds, here, everything a GPU device call carries (docs/performance.md, "GPU checks"):
# memprof and the eight GPU tests for sm_90 without OpenBLAS in build-device/, copied into
# build-carry/ (one folder: a call carries at most 8 paths), the runtime libraries they need
# as .rt.tar.gz, and (with BASE=COMMIT) the same memprof from an earlier commit as
# build-carry/base/memprof for a same-card A/B; build-carry/ is then packed into
# build-carry.tar.gz, which is what travels. Ends with the size and the `carry` list.
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
# A device call carries at most 8 paths: everything goes into one folder laid out as a
# BUILD folder (memprof, tests/…), with the A/B binary as base/memprof.
rm -rf build-carry
mkdir -p build-carry/tests
cp build-device/memprof build-carry/
for t in $tests; do cp "build-device/tests/$t" build-carry/tests/; done
if [ -n "${BASE:-}" ]; then
    base_tree=/tmp/memprof-base-$BASE
    [ -d "$base_tree" ] || git worktree add --detach "$base_tree" "$BASE"
    make -C "$base_tree" -j"$jobs" BUILD=build-device CUDA_ARCH=90 BLAS=none build-device/memprof
    mkdir -p build-carry/base
    cp "$base_tree/build-device/memprof" build-carry/base/memprof
fi
# What travels: the tracked tree plus the carried files (the limit is 64 MiB). The binaries
# travel as one gzip archive (45 MB of them were 12.5 MB on 2026-11-27: each holds the same
# kernels), unpacked there first.
tar czf build-carry.tar.gz build-carry
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb build-carry.tar.gz .rt.tar.gz | tail -1 | cut -f1)
echo "tracked files $((tracked >> 20)) MiB + carried $((carried >> 20)) MiB = $(((tracked + carried) >> 20)) MiB (limit 64)"
echo 'carry: ["build-carry.tar.gz", ".rt.tar.gz"]'
echo "there: tar xzf build-carry.tar.gz && BUILD=build-carry${BASE:+ BASE=build-carry/base/memprof} scripts/device-all.sh (or device-check.sh)"
