#!/usr/bin/env bash
# Copies the shared libraries that memprof binaries built on a Debian machine need but a GPU
# machine with its own CUDA, NCCL, Open MPI and C/C++ runtime may lack (parallel HDF5,
# libyaml, jansson, OpenBLAS, cairo, ...), so that they can travel with the binaries.
#
# usage: scripts/bundle-runtime.sh OUTDIR BINARY...   (writes OUTDIR/ and OUTDIR.tar.gz)
# There: export LD_LIBRARY_PATH=$PWD/OUTDIR:$LD_LIBRARY_PATH (and `mpirun -x LD_LIBRARY_PATH`) for
# memprof's binaries only (not python3: these are Debian's builds of libz, libffi, libssl, ...).
set -eu
out=$1; shift
mkdir -p "$out"
# Libraries the target provides itself: the C and C++ runtimes, CUDA, NCCL and Open MPI.
provided='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libgcc_s\.so|libstdc\+\+\.so|libcuda\.so|libcublas|libcudart|libnccl|libcudnn|libnvrtc|libnvJitLink|libmpi\.so|libopen-pal|libopen-rte|libhwloc|libevent)'
for binary in "$@"; do
    ldd "$binary" | awk '$3 ~ /^\// {print $1, $3}' | grep -vE "$provided" |
        while read -r name path; do cp -L "$path" "$out/$name"; done
done
# The small ones among those (Open MPI, hwloc, libevent, libcudart: a few MB) also go to
# OUTDIR/fallback, which scripts/device-check.sh adds only where the machine lacks them
# (they must not shadow the machine's own). cuBLASLt (~500 MB) never travels.
fallback='^(libmpi\.so|libopen-pal|libopen-rte|libhwloc|libevent|libcudart)'
mkdir -p "$out/fallback"
for binary in "$@"; do
    ldd "$binary" | awk '$3 ~ /^\// {print $1, $3}' | grep -E "$fallback" |
        while read -r name path; do cp -L "$path" "$out/fallback/$name"; done
done
# The same folder as one archive (31 MB → 13 MB of the 64 MB a device call may carry):
# carry OUTDIR.tar.gz instead of OUTDIR; scripts/device-check.sh unpacks it.
tar czf "$out.tar.gz" "$out"
du -sh "$out" "$out.tar.gz"
