#!/usr/bin/env bash
# The float64 numpy reference (scripts/neox_reference.py) against the HF fixture reference,
# then scripts/compare_reference.py — the CUDA acceptance criteria — on the CPU backend's
# per-token output for a random 14m-shaped F16 model (must pass), on damaged copies of that
# output (must fail, naming the check), and on bad input (one-line errors, exit 1).
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS neox reference: $1"; }
fail() { echo "FAIL neox reference: $1"; }

# 1. The fixture: same statistics as HF's float64 run.
fixture=tests/fixtures/tiny-neox-f32-safetensors
python3 -c "
import sys
from safetensors.numpy import load_file
ref = load_file(sys.argv[1])
for k in range(4): print(' '.join(str(int(t)) for t in ref[f'seq{k}.input_ids']))
" "$fixture/reference.safetensors" >"$work/fixture.txt"
if python3 scripts/neox_reference.py --checkpoint "$fixture" --tokens "$work/fixture.txt" --out "$work/fixture.safetensors" 2>"$work/err"; then
    python3 - "$fixture/reference.safetensors" "$work/fixture.safetensors" <<'PY'
import sys
import numpy as np
from safetensors.numpy import load_file
hf, mine = load_file(sys.argv[1]), load_file(sys.argv[2])
for k in range(4):
    worst = max(float(np.abs(mine[f"seq{k}.{f}"] - hf[f"seq{k}.{f}"]).max()) for f in ("surprisal", "entropy", "top2_gap"))
    wide = hf[f"seq{k}.target_margin"] >= 1e-6
    same_rank = bool((mine[f"seq{k}.rank"][wide] == hf[f"seq{k}.rank"][wide]).all())
    ok = worst <= 1e-6 and same_rank and (mine[f"seq{k}.input_ids"] == hf[f"seq{k}.input_ids"]).all()
    print(f"{'PASS' if ok else 'FAIL'} neox reference: fixture seq{k} equals HF float64 (worst {worst:.2e}, ranks equal: {same_rank})")
PY
else
    fail "fixture run: $(cat "$work/err")"
fi

# 2. A random 14m-shaped F16 model, CPU fp32 per-token output: within every criterion.
python3 scripts/make-random-checkpoint.py --size 14m --out "$work/model" --seed 7 >/dev/null
if python3 scripts/neox_reference.py --checkpoint "$work/model" --random 300,77,2 --seed 3 --out "$work/ref.safetensors" 2>"$work/err"; then
    pass "random 14m reference written"
else
    fail "random 14m reference: $(cat "$work/err")"
fi
"$MEMPROF" score --checkpoint "$work/model" --tokens "$work/ref.safetensors" --per-token --backend cpu >"$work/cpu.csv" 2>"$work/err" \
    || fail "memprof score: $(cat "$work/err")"
python3 scripts/compare_reference.py --reference "$work/ref.safetensors" --per-token "$work/cpu.csv" --epsilon 0.02 \
    --label "cpu fp32 vs float64, random 14m" >"$work/compare.txt"
rc=$?
grep -E '^(PASS|FAIL) ' "$work/compare.txt"
[ "$rc" -eq 0 ] && pass "compare exits 0 when every check passes" || fail "compare exited $rc"

# 3. Damaged outputs are caught by the check they break.
damage() {  # name, python expression on row (dict) and index i → edited row; expected FAIL pattern
    python3 - "$work/cpu.csv" "$work/damaged.csv" "$2" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for i, row in enumerate(rows):
    exec(sys.argv[3])
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=rows[0].keys()); w.writeheader(); w.writerows(rows)
PY
    python3 scripts/compare_reference.py --reference "$work/ref.safetensors" --per-token "$work/damaged.csv" --epsilon 0.02 >"$work/damaged.txt"
    local rc=$?
    if [ "$rc" -eq 1 ] && grep -q "^FAIL .*$3" "$work/damaged.txt"; then pass "detects $1"; else fail "does not detect $1 (rc $rc)"; fi
}
damage "a shifted mean surprisal" 'row["surprisal"] = str(float(row["surprisal"]) + 0.01) if row["seq"] == "seq0" else row["surprisal"]' "seq0: mean surprisal"
damage "a rank beyond its allowance" 'row["rank"] = str(int(row["rank"]) + 5000) if (row["seq"], row["pos"]) == ("seq1", "5") else row["rank"]' "seq1: |rank difference|"
damage "a missing row" 'row["seq"] = "gone" if (row["seq"], row["pos"]) == ("seq0", "17") else row["seq"]' "seq0: one row per predicted position"
damage "flipped correct flags" 'row["correct"] = str(1 - int(row["correct"])) if row["seq"] == "seq0" else row["correct"]' "seq0: correct equal"

# 4. Bad input: one line naming the file, exit 1.
printf '1 2 3\nnot tokens\n' >"$work/bad.txt"
out=$(python3 scripts/neox_reference.py --checkpoint "$work/model" --tokens "$work/bad.txt" --out "$work/x.safetensors" 2>&1)
[ $? -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "bad.txt:2" \
    && pass "bad token line named (${out})" || fail "bad token line: $out"
out=$(python3 scripts/compare_reference.py --reference "$work/ref.safetensors" --per-token "$work/missing.csv" --epsilon 0.02 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "missing.csv" && pass "missing CSV named" || fail "missing CSV: $out"
out=$(python3 scripts/compare_reference.py --reference "$work/ref.safetensors" --per-token "$work/cpu.csv" --epsilon 0.5 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "near_0.5" && pass "an epsilon the reference lacks is named" || fail "epsilon: $out"
