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

# The GPU's SM clock and power draw while a command runs (nvidia-smi every 100 ms), one line
# after it over the samples where the GPU was busy (utilisation ≥ 90%): H100 benches of
# large GEMMs are limited by power, not by the 1980 MHz clock, and this shows by how much.
# usage: with_gpu_samples COMMAND ARGS... (returns the command's status)
with_gpu_samples() {
    command -v nvidia-smi >/dev/null || { "$@"; return; }
    local samples sampler rc
    samples=$(mktemp)
    nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,utilization.gpu --format=csv,noheader,nounits \
        -lms 100 >"$samples" 2>/dev/null &
    sampler=$!
    "$@"; rc=$?
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    awk -F', *' '$4 + 0 >= 90 { print $1, $2, $3 }' "$samples" >"$samples.busy"
    local n middle
    n=$(wc -l <"$samples.busy")
    middle=$(( (n + 1) / 2 ))
    if [ "$n" -eq 0 ]; then
        echo "  gpu: no busy samples"
    else
        # sort -n by one column, then take the middle, first or last line's field
        at() { sort -n -k"$1,$1" "$samples.busy" | sed -n "$2p" | cut -d' ' -f"$1"; }
        echo "  gpu: SM clock median $(at 1 "$middle") MHz (min $(at 1 1), max $(at 1 "$n")), power median" \
             "$(at 2 "$middle") W (max $(at 2 "$n")), up to $(at 3 "$n") C, $n busy samples"
    fi
    rm -f "$samples" "$samples.busy"
    return "$rc"
}
