#!/usr/bin/env bash
# Bad inputs to `memprof panel`: each a one-line error naming the file (and line), exit 1,
# and no panel.h5 (nor its temporary) left behind.
set -u
MEMPROF=${MEMPROF:-build/memprof}
TOKENIZER=data/gpt-neox-20b-tokenizer.json
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT

expect_failure() {  # name, expected text, memprof panel arguments...
    local name=$1 expected=$2; shift 2
    rm -f "$dir/out.h5" "$dir/out.h5.tmp"
    "$MEMPROF" panel "$@" --out "$dir/out.h5" 2> "$dir/err" >/dev/null; local rc=$?
    local lines; lines=$(wc -l < "$dir/err")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$expected" "$dir/err" && [ ! -e "$dir/out.h5" ] && [ ! -e "$dir/out.h5.tmp" ]; then
        echo "PASS $name"
    else
        echo "FAIL $name: rc $rc, files: $(ls "$dir" | tr '\n' ' '), stderr: $(head -c 300 "$dir/err")"
    fi
}

# A valid 3-sample uint16 .bin and its idx, then broken variants.
python3 - "$dir" <<'PY' 2>/dev/null || { printf 'x' > "$dir/none"; }
import struct, sys
d = sys.argv[1]
L, N = 2049, 3
with open(f"{d}/data.bin", "wb") as f:
    f.write(b"".join(struct.pack("<H", 2 + (i % 1000)) for i in range(N * L)))
with open(f"{d}/data_big.bin", "wb") as f:
    f.write(b"".join(struct.pack("<H", 60000) for i in range(N * L)))
def idx(magic=b"MMIDIDX\x00\x00", version=1, dtype=8, last_pointer=None, last_size=L):
    sizes = [L] * (N - 1) + [last_size]
    pointers = [2 * L * i for i in range(N)]
    if last_pointer is not None:
        pointers[-1] = last_pointer
    return (magic + struct.pack("<QBQQ", version, dtype, N, N + 1) + struct.pack(f"<{N}i", *sizes)
            + struct.pack(f"<{N}q", *pointers) + struct.pack(f"<{N+1}q", *range(N + 1)))
open(f"{d}/good.idx", "wb").write(idx())
open(f"{d}/magic.idx", "wb").write(idx(magic=b"NOTANIDX\x00"))
open(f"{d}/version.idx", "wb").write(idx(version=3))
open(f"{d}/dtype.idx", "wb").write(idx(dtype=11))
open(f"{d}/pointer.idx", "wb").write(idx(last_pointer=2 * L * N))
open(f"{d}/size.idx", "wb").write(idx(last_size=L + 5))
PY
if [ ! -f "$dir/good.idx" ]; then echo "SKIP panel bad-input tests: python3 unavailable"; exit 0; fi

expect_failure "idx bad magic" "magic.idx: bad magic" --pile-idx "$dir/magic.idx" --pile-bin "$dir/data.bin" --indices /dev/null
expect_failure "idx bad version" "version.idx: unsupported idx version 3" --pile-idx "$dir/version.idx" --pile-bin "$dir/data.bin" --indices /dev/null
expect_failure "idx bad dtype" "dtype.idx: unknown dtype code 11" --pile-idx "$dir/dtype.idx" --pile-bin "$dir/data.bin" --indices /dev/null
expect_failure "idx pointer past the end of .bin" "pointer.idx: item 2" --valid-idx "$dir/pointer.idx" --valid-bin "$dir/data.bin" --valid-count 1
expect_failure "idx size past the end of .bin" "size.idx: item 2" --valid-idx "$dir/size.idx" --valid-bin "$dir/data.bin" --valid-count 1
printf '1\n3\n' > "$dir/range.txt"
expect_failure "sample index out of range" "sample 3 out of range" --pile-idx "$dir/good.idx" --pile-bin "$dir/data.bin" --indices "$dir/range.txt"
printf '0\n' > "$dir/zero.txt"
expect_failure "token id >= model vocabulary" "token id 60000 >= model vocabulary 50304" --pile-bin "$dir/data_big.bin" --indices "$dir/zero.txt"
expect_failure "token id >= --vocab-size" ">= model vocabulary 100" --pile-bin "$dir/data.bin" --indices "$dir/zero.txt" --vocab-size 100

printf '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n' > "$dir/bad.jsonl"
expect_failure "JSON line that does not parse" "bad.jsonl:3: JSON does not parse" --valid "$dir/bad.jsonl" --tokenizer "$TOKENIZER" --valid-count 1
printf '{"text": "a"}\n{"text": "b\xc3("}\n' > "$dir/utf8.jsonl"
expect_failure "invalid UTF-8 with its line number" "utf8.jsonl:2: invalid UTF-8" --valid "$dir/utf8.jsonl" --tokenizer "$TOKENIZER" --valid-count 1
for i in $(seq 1 3000); do echo "{\"text\": \"line $i of a document that is long enough to compress into several blocks $RANDOM\"}"; done > "$dir/many.jsonl"
if command -v zstd >/dev/null; then
    zstd -q "$dir/many.jsonl" -o "$dir/many.jsonl.zst"
    head -c $(( $(stat -c %s "$dir/many.jsonl.zst") / 2 )) "$dir/many.jsonl.zst" > "$dir/truncated.jsonl.zst"
    expect_failure "truncated .zst stream" "truncated.jsonl.zst: truncated zstd stream" --valid "$dir/truncated.jsonl.zst" --tokenizer "$TOKENIZER" --valid-count 1
else
    echo "SKIP truncated .zst through the CLI: no zstd command (test_jsonl covers the reader)"
fi
expect_failure "too few validation windows" "fewer than --valid-count" --valid "$dir/many.jsonl" --tokenizer "$TOKENIZER" --valid-count 100000
expect_failure "missing .bin" "cannot open" --pile-bin "$dir/missing.bin" --indices "$dir/zero.txt"
"$MEMPROF" panel --bogus-option 2>/dev/null; [ $? -eq 2 ] && echo "PASS unknown option is a usage error" || echo "FAIL unknown option"
