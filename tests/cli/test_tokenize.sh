#!/usr/bin/env bash
# `memprof tokenize` (pinned interface): ids of every golden text (HF tokenizers' output)
# compared as parsed JSON, the same with 4 threads, and the errors naming line numbers.
set -u
MEMPROF=${MEMPROF:-build/memprof}
TOKENIZER=data/gpt-neox-20b-tokenizer.json
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$MEMPROF" tokenize --help >/dev/null && echo "PASS tokenize --help" || echo "FAIL tokenize --help"

for golden in tests/fixtures/tokenizer/golden.jsonl tests/fixtures/tokenizer/golden_extra.jsonl; do
    name=$(basename "$golden")
    for threads in 1 4; do
        "$MEMPROF" tokenize --tokenizer "$TOKENIZER" --threads $threads < "$golden" > "$dir/out.jsonl"; rc=$?
        result=$(python3 - "$golden" "$dir/out.jsonl" <<'PY'
import json, sys
want = [json.loads(l)["ids"] for l in open(sys.argv[1], encoding="utf-8")]
got = [json.loads(l)["ids"] for l in open(sys.argv[2], encoding="utf-8")]
same = sum(a == b for a, b in zip(want, got))
print(f"{same}/{len(want)}" + ("" if len(got) == len(want) else f" (got {len(got)} lines)"))
PY
)
        if [ $rc -eq 0 ] && [ "$result" = "$(wc -l < "$golden")/$(wc -l < "$golden")" ]; then
            echo "PASS tokenize CLI $name threads=$threads: $result"
        else
            echo "FAIL tokenize CLI $name threads=$threads: rc $rc, $result"
        fi
    done
done

expect_error() {  # name, expected text in the message, input file
    local name=$1 expected=$2 input=$3
    "$MEMPROF" tokenize --tokenizer "$TOKENIZER" < "$input" > "$dir/out" 2> "$dir/err"; local rc=$?
    local lines; lines=$(wc -l < "$dir/err")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -q "$expected" "$dir/err"; then
        echo "PASS $name"
    else
        echo "FAIL $name: rc $rc, stderr: $(cat "$dir/err")"
    fi
}
printf '{"text": "a"}\n{"text": "b"\n{"text": "c"}\n' > "$dir/bad_json"
expect_error "JSON that does not parse names line 2" "line 2: JSON does not parse" "$dir/bad_json"
[ "$(cat "$dir/out")" = '{"ids": [66]}' ] && echo "PASS lines before the error are written" || echo "FAIL output before error: $(cat "$dir/out")"
printf '{"text": "a"}\n{"text": "b"}\n{"txt": "c"}\n' > "$dir/no_text"
expect_error "missing text names line 3" 'line 3: no string field "text"' "$dir/no_text"
printf '{"text": 5}\n' > "$dir/number_text"
expect_error "non-string text names line 1" "line 1:" "$dir/number_text"
printf '{"text": "ok"}\n{"text": "bad \xff byte"}\n' > "$dir/bad_utf8"
expect_error "invalid UTF-8 names line 2" "line 2: invalid UTF-8" "$dir/bad_utf8"
printf '{"text": "no newline at end"}' > "$dir/last"
"$MEMPROF" tokenize --tokenizer "$TOKENIZER" < "$dir/last" | grep -q '"ids"' && echo "PASS last line without newline" || echo "FAIL last line without newline"
"$MEMPROF" tokenize --tokenizer /nonexistent.json < /dev/null 2>/dev/null; [ $? -eq 1 ] && echo "PASS missing tokenizer file fails" || echo "FAIL missing tokenizer file"
