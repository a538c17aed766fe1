#!/usr/bin/env bash
# `memprof score` end to end: both token-file formats against the HF reference (checked by
# numpy), thread-count invariance of the output, and bad input (one-line errors, exit 1).
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS score: $1"; }
fail() { echo "FAIL score: $1"; }

for fixture in tiny-neox-f32-safetensors tiny-neox-f16-bin; do
    dir=tests/fixtures/$fixture
    ref=$dir/reference.safetensors
    if "$MEMPROF" score --checkpoint "$dir" --tokens "$ref" --per-token >"$work/tokens.csv" 2>"$work/err"; then
        pass "$fixture per-token run"
        python3 tests/cli/compare_score_csv.py "$ref" "$work/tokens.csv" per-token seq | sed "s/^\(PASS\|FAIL\) /\1 score $fixture per-token /"
    else
        fail "$fixture per-token run: $(cat "$work/err")"
    fi
    # The same sequences as a text file: one line each, named by line number.
    python3 -c "
import sys
from safetensors.numpy import load_file
ref = load_file(sys.argv[1])
for name in sorted(k for k in ref if k.endswith('.input_ids')):
    print(' '.join(str(int(t)) for t in ref[name]))
" "$ref" >"$work/tokens.txt"
    for threads in 1 2; do
        "$MEMPROF" score --checkpoint "$dir" --tokens "$work/tokens.txt" --threads $threads >"$work/seq$threads.csv" 2>"$work/err" \
            || fail "$fixture text run with $threads threads: $(cat "$work/err")"
    done
    python3 tests/cli/compare_score_csv.py "$ref" "$work/seq1.csv" per-sequence line | sed "s/^\(PASS\|FAIL\) /\1 score $fixture per-sequence /"
    if cmp -s "$work/seq1.csv" "$work/seq2.csv"; then pass "$fixture output identical with 1 and 2 threads"
    else fail "$fixture output differs between 1 and 2 threads"; fi
done

# Bad input: each exits 1 with one line naming the file and the cause.
dir=tests/fixtures/tiny-neox-f32-safetensors
expect_error() {  # name, expected substring, command...
    local name=$1 expected=$2; shift 2
    "$@" >"$work/out" 2>"$work/err"; local rc=$?
    if [ "$rc" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q -- "$expected" "$work/err"; then pass "$name"
    else fail "$name: exit $rc, stderr: $(head -c 300 "$work/err")"; fi
}
printf '1 2 3\n5 1024 7\n' >"$work/big.txt"
expect_error "token id >= vocabulary" "big.txt: sequence 2, position 1: token id 1024 is not below the model's vocabulary size 1024" \
    "$MEMPROF" score --checkpoint "$dir" --tokens "$work/big.txt"
printf '1 2 3\n9\n' >"$work/short.txt"
expect_error "1-token sequence" "short.txt: sequence 2 has 1 token; at least 2 are needed" \
    "$MEMPROF" score --checkpoint "$dir" --tokens "$work/short.txt"
printf '1 2 x3\n' >"$work/word.txt"
expect_error "non-numeric token" "word.txt:1: 'x3' at column 5 is not a token id" \
    "$MEMPROF" score --checkpoint "$dir" --tokens "$work/word.txt"
expect_error "missing token file" "nothing.txt: cannot open" \
    "$MEMPROF" score --checkpoint "$dir" --tokens "$work/nothing.txt"
expect_error "missing checkpoint folder" "$work/no-such-checkpoint" \
    "$MEMPROF" score --checkpoint "$work/no-such-checkpoint" --tokens "$work/big.txt"
# Broken checkpoints through the command: one line naming the file, exit 1.
broken=$work/broken; mkdir -p "$broken"
cp "$dir/config.json" "$broken/"
head -c 5000 "$dir/model.safetensors" >"$broken/model.safetensors"
expect_error "truncated safetensors" "$broken/model.safetensors" \
    "$MEMPROF" score --checkpoint "$broken" --tokens "$work/short.txt"
rm "$broken/model.safetensors"; printf 'not a zip archive at all' >"$broken/pytorch_model.bin"
expect_error "non-zip pytorch_model.bin" "legacy (non-zip) torch format not supported" \
    "$MEMPROF" score --checkpoint "$broken" --tokens "$work/short.txt"
cp "$dir/model.safetensors" "$broken/"; rm "$broken/pytorch_model.bin"
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); del c['hidden_size']; json.dump(c, open(sys.argv[1],'w'))" "$broken/config.json"
expect_error "config.json without hidden_size" "hidden_size" \
    "$MEMPROF" score --checkpoint "$broken" --tokens "$work/short.txt"

"$MEMPROF" score --checkpoint "$dir" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass "missing --tokens is a usage error (exit 2)" || fail "missing --tokens exit $rc"
"$MEMPROF" score --help | grep -q -- "--per-token" && pass "--help" || fail "--help"
exit 0
