#!/usr/bin/env bash
# Checkpoint load throughput, the issue's acceptance figure in one command: writes a random
# Pythia-shaped F16 checkpoint (scripts/make-random-checkpoint.py --fill repeat: at disk
# speed, little memory even for 12b) and runs `memprof bench --load-checkpoint` on it, which prints the median
# GB/s of the load onto the backend next to a plain read() of the same file.
#
# usage: scripts/bench-load.sh [SIZE] [memprof bench options...]
#   SIZE       410m (default) ... 12b (12b writes ~24 GB: check the disk first)
#   options    passed on, e.g. --precision bf16, --repeats 5, --cold, --backend cpu
# environment: BUILD (default build), MEMPROF (default $BUILD/memprof),
#              WORK (folder for the checkpoint; default a fresh temporary one, removed at
#              the end unless KEEP=1; an existing WORK/random-SIZE is reused as it is)
set -u
BUILD=${BUILD:-build}
MEMPROF=${MEMPROF:-$BUILD/memprof}
size=${1:-410m}
[ $# -gt 0 ] && shift
if [ -n "${WORK:-}" ]; then
    work=$WORK
else
    work=$(mktemp -d)
    [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
fi
dir=$work/random-$size
backend=(--backend cuda)
for option in "$@"; do [ "$option" = --backend ] && backend=(); done
if [ ! -f "$dir/model.safetensors" ]; then
    echo "writing a random $size checkpoint to $dir ($(df -h --output=avail "$work" | tail -1 | tr -d ' ') free there)"
    start=$SECONDS
    # Load timing needs the bytes, not distinct values: one block of draws, repeated (disk speed).
    python3 scripts/make-random-checkpoint.py --size "$size" --out "$dir" --seed 1 --fill repeat || exit 1
    sync  # on disk, so that --cold can drop the pages and the reads really come from the disk
    echo "written in $((SECONDS - start)) s"
fi
"$MEMPROF" bench --load-checkpoint "$dir" "${backend[@]}" "$@"
