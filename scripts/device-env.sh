# device-env.sh — sourced by the device scripts (device-check.sh, device-profile.sh, device-large.sh): how
# memprof's binaries find their bundled libraries on the GPU machine, and the step budget.
# Needs BUILD and budget (seconds) set.

left() { echo $((budget - SECONDS)); }
# Timeout for a step: its cap, or what is left of the budget (at least 5 s).
cap() { local l; l=$(left); [ "$l" -lt "$1" ] && echo $((l > 5 ? l : 5)) || echo "$1"; }

# The bundled libraries (.rt) are for memprof's binaries only: python3 (torch) must keep
# the machine's own libz/libffi/libexpat/libssl, so LD_LIBRARY_PATH is never exported.
memprof_libs=$PWD/.rt
missing_libs() { LD_LIBRARY_PATH=$memprof_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$1" | grep 'not found'; }
resolve_libs() {
    # Open MPI / libcudart copies (.rt/fallback) only where the machine lacks them; cuBLASLt
    # is too large to carry, so look for the machine's (toolkit or PyTorch's pip wheel).
    if missing_libs "$BUILD/memprof" >/dev/null && [ -d .rt/fallback ]; then
        memprof_libs=$memprof_libs:$PWD/.rt/fallback
    fi
    if missing_libs "$BUILD/memprof" | grep -q libcublasLt; then
        local found
        found=$(find /usr/local /opt /usr/lib -name 'libcublasLt.so.13*' 2>/dev/null | head -1)
        [ -n "$found" ] && memprof_libs=$memprof_libs:$(dirname "$found")
    fi
    if missing_libs "$BUILD/memprof"; then echo "WARNING: libraries still missing (above)"; fi
}
# usage: run_memprof SECONDS BINARY ARGS...
run_memprof() {
    local seconds=$1; shift
    timeout "$seconds" env LD_LIBRARY_PATH="$memprof_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
}

