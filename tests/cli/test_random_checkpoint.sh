#!/usr/bin/env bash
# scripts/make-random-checkpoint.py: the same seed writes the same bytes; --fill repeat
# writes the same layout (header, size) as the drawn checkpoint, finite values at the drawn
# scales, and a checkpoint memprof loads; a bad --fill is refused.
set -u
MEMPROF=${MEMPROF:-build/memprof}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass() { echo "PASS random checkpoint: $1"; }
fail() { echo "FAIL random checkpoint: $1"; }
make_checkpoint() { python3 scripts/make-random-checkpoint.py --size 14m --seed 5 --out "$@"; }

make_checkpoint "$work/a" && make_checkpoint "$work/b" && make_checkpoint "$work/repeat" --fill repeat ||
    { fail "writing the checkpoints"; exit 1; }
if cmp -s "$work/a/model.safetensors" "$work/b/model.safetensors"; then pass "a seed writes the same bytes"
else fail "two runs with seed 5 differ"; fi

# Layout and scales of the repeated fill against the drawn one (numpy reads the file itself).
python3 - "$work/a/model.safetensors" "$work/repeat/model.safetensors" <<'PY'
import json, sys
import numpy as np

def read(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = np.frombuffer(f.read(), dtype=np.float16)
    return header, data, 8 + n

(drawn_header, drawn, _), (header, data, _) = read(sys.argv[1]), read(sys.argv[2])
def report(ok, what, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} random checkpoint: {what}{'' if ok else ': ' + detail}")

report(header == drawn_header and data.size == drawn.size, "--fill repeat has the drawn checkpoint's header and size")
report(bool(np.isfinite(data).all()), "--fill repeat: every value finite")
def tensor(name, values, hdr):
    start, end = hdr[name]["data_offsets"]
    return values[start // 2:end // 2].astype(np.float64)
worst = 0.0
for name in ("gpt_neox.embed_in.weight", "gpt_neox.layers.0.attention.query_key_value.weight",
             "gpt_neox.layers.3.mlp.dense_4h_to_h.weight", "embed_out.weight"):
    a, b = tensor(name, drawn, drawn_header), tensor(name, data, header)
    worst = max(worst, abs(b.std() / a.std() - 1.0))
report(worst < 0.05, "--fill repeat: matrices at the drawn scales (std within 5%)", f"worst relative {worst:.3f}")
norm = tensor("gpt_neox.layers.1.input_layernorm.weight", data, header)
report(bool((norm >= 0.9).all() and (norm <= 1.1).all()), "--fill repeat: LayerNorm weights in 1 +- 0.1",
       f"{norm.min()} .. {norm.max()}")
PY

if "$MEMPROF" bench --load-checkpoint "$work/repeat" --backend cpu --repeats 1 >"$work/load.txt" 2>&1 &&
    grep -q "end to end" "$work/load.txt"; then
    pass "memprof loads a --fill repeat checkpoint"
else
    fail "memprof bench --load-checkpoint: $(tail -n 3 "$work/load.txt")"
fi

if python3 scripts/make-random-checkpoint.py --size 14m --out "$work/bad" --fill sometimes 2>"$work/err"; then
    fail "--fill sometimes was accepted"
elif grep -q "invalid choice" "$work/err"; then
    pass "--fill sometimes is refused, naming the choice"
else
    fail "--fill sometimes: unexpected message: $(cat "$work/err")"
fi
