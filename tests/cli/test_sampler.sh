#!/usr/bin/env bash
# The paper's sample from memprof alone (sha256 fixed in issue 3, computed by numpy), then
# other seeds and sizes against numpy itself (scripts/panel_reference.py).
set -u
MEMPROF=${MEMPROF:-build/memprof}
expected=989aec9fd0f30185de88a28cb3329110973b8eee3e1041d41302d1ae6c6d8f2c
got=$("$MEMPROF" panel --list-indices | sha256sum | cut -d' ' -f1)
if [ "$got" = "$expected" ]; then echo "PASS paper sample sha256 (memprof alone)"; else echo "FAIL paper sample sha256: got $got"; fi
count=$("$MEMPROF" panel --list-indices | wc -l)
[ "$count" -eq 14300 ] && echo "PASS paper sample has 14300 indices" || echo "FAIL paper sample count: $count"

if ! python3 -c "import numpy" 2>/dev/null; then
    echo "SKIP sampler vs numpy: numpy not installed (pip install -r scripts/requirements.txt)"
    exit 0
fi
for config in "--seed 0 --cohorts 3 --batches-per-cohort 50 --batches-drawn 5 --batch-size 64 --sequences-drawn 7" \
              "--seed 123456 --cohorts 2 --batches-per-cohort 1000 --batches-drawn 10 --batch-size 1024 --sequences-drawn 1024" \
              "--seed 4294967295 --cohorts 5 --batches-per-cohort 7 --batches-drawn 7 --batch-size 3 --sequences-drawn 2" \
              "--seed 1994 --cohorts 143 --batches-per-cohort 1000 --batches-drawn 10 --batch-size 1024 --sequences-drawn 10"; do
    memprof_args=${config/--seed/--sample-seed}
    a=$("$MEMPROF" panel --list-indices $memprof_args | sha256sum)
    b=$(python3 scripts/panel_reference.py sample $config | sha256sum)
    if [ "$a" = "$b" ]; then echo "PASS sampler = numpy ($config)"; else echo "FAIL sampler vs numpy ($config)"; fi
done
# Explicit index list: echoed back sorted; a bad line is an error naming file and line.
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf '# comment\n30\n\n10\n20\n' > "$dir/list.txt"
[ "$("$MEMPROF" panel --list-indices --indices "$dir/list.txt" | tr '\n' ' ')" = "10 20 30 " ] \
    && echo "PASS index list file" || echo "FAIL index list file"
printf '1\nx2\n' > "$dir/bad.txt"
err=$("$MEMPROF" panel --list-indices --indices "$dir/bad.txt" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [[ "$err" == *"bad.txt:2:"* ]] && echo "PASS bad index list names file:line" || echo "FAIL bad index list: rc $rc '$err'"
