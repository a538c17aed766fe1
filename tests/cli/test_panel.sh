#!/usr/bin/env bash
# `memprof panel` end to end on a small sharded "preshuffled Pile" and validation text made
# by scripts/panel_reference.py, checked against numpy + HF tokenizers + h5py; .jsonl.zst
# and --threads give the same panel; the synthetic panel's invariants.
set -u
MEMPROF=${MEMPROF:-build/memprof}
ROOT=$(pwd)
TOKENIZER=$ROOT/data/gpt-neox-20b-tokenizer.json
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$MEMPROF" panel --help >/dev/null && echo "PASS panel --help" || echo "FAIL panel --help"

"$MEMPROF" panel --synthetic --out "$dir/synthetic.h5" && [ -f "$dir/synthetic.h5" ] && [ ! -e "$dir/synthetic.h5.tmp" ] \
    && echo "PASS synthetic panel written" || echo "FAIL synthetic panel"
"$MEMPROF" panel --synthetic --out "$dir/synthetic2.h5"
cmp -s <(h5dump -d tokens "$dir/synthetic.h5" | tail -n +2) <(h5dump -d tokens "$dir/synthetic2.h5" | tail -n +2) \
    && echo "PASS synthetic panel is deterministic" || echo "FAIL synthetic panel not deterministic"
"$MEMPROF" panel --synthetic --seed 5 --out "$dir/synthetic3.h5"
cmp -s <(h5dump -d tokens "$dir/synthetic.h5" | tail -n +2) <(h5dump -d tokens "$dir/synthetic3.h5" | tail -n +2) \
    && echo "FAIL synthetic panel ignores --seed" || echo "PASS synthetic panel depends on --seed"

if ! python3 -c "import numpy, tokenizers, h5py" 2>/dev/null; then
    echo "SKIP panel vs reference: needs numpy, tokenizers, h5py (pip install -r scripts/requirements.txt)"
    exit 0
fi
python3 scripts/panel_reference.py check-synthetic "$dir/synthetic.h5" --vocab-size 1024
python3 scripts/panel_reference.py make-fixture "$dir"
shards=(--pile-bin "$dir/document-00000-of-00002.bin" --pile-bin "$dir/document-00001-of-00002.bin" --pile-bin "$dir/document-00002-of-00002.bin")
"$MEMPROF" panel --pile-idx "$dir/document.idx" "${shards[@]}" --indices "$dir/indices.txt" --batch-size 4 \
    --valid "$dir/valid.jsonl" --tokenizer "$TOKENIZER" --valid-count 5 --out "$dir/panel.h5" \
    && echo "PASS panel from idx/bin + jsonl" || echo "FAIL panel from idx/bin + jsonl"
python3 scripts/panel_reference.py check "$dir/panel.h5" "$dir" --tokenizer "$TOKENIZER" --valid-count 5 --batch-size 4 \
    --tokenizer-sha256 "$(sha256sum "$TOKENIZER" | cut -d' ' -f1)"

if command -v zstd >/dev/null; then
    zstd -q -19 "$dir/valid.jsonl" -o "$dir/valid.jsonl.zst"
    "$MEMPROF" panel --pile-idx "$dir/document.idx" "${shards[@]}" --indices "$dir/indices.txt" --batch-size 4 \
        --valid "$dir/valid.jsonl.zst" --tokenizer "$TOKENIZER" --valid-count 5 --threads 3 --out "$dir/panel_zst.h5"
    same=1
    for d in tokens seq_idx split train_step; do
        cmp -s <(h5dump -d $d "$dir/panel.h5" | tail -n +2) <(h5dump -d $d "$dir/panel_zst.h5" | tail -n +2) || same=0
    done
    [ $same -eq 1 ] && echo "PASS .jsonl.zst with 3 threads gives the same panel" || echo "FAIL .jsonl.zst panel differs"
else
    echo "SKIP .jsonl.zst panel: no zstd command (the reader itself is tested in test_jsonl)"
fi

# --pile-dir finds the same shards (name order) and document.idx.
"$MEMPROF" panel --pile-dir "$dir" --indices "$dir/indices.txt" --batch-size 4 --out "$dir/from_dir.h5"
python3 - "$dir/from_dir.h5" "$dir/panel.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
same = np.array_equal(a["tokens"][...], b["tokens"][:4]) and np.array_equal(a["train_step"][...], b["train_step"][:4])
print("PASS --pile-dir reads the same shards" if same else "FAIL --pile-dir: rows differ")
PY

# Pre-tokenised validation (idx/bin) whose concatenation equals the training shards.
"$MEMPROF" panel --valid-idx "$dir/document.idx" --valid-bin "$dir/document-00000-of-00002.bin" \
    --valid-bin "$dir/document-00001-of-00002.bin" --valid-bin "$dir/document-00002-of-00002.bin" \
    --valid-count 3 --valid-seed 7 --out "$dir/valid_idx.h5"
python3 - "$dir" <<'PY'
import sys, h5py, numpy as np
from numpy.random import RandomState
d = sys.argv[1]
raw = b"".join(open(f"{d}/document-{i:05d}-of-00002.bin", "rb").read() for i in range(3))
rows = np.frombuffer(raw, "<u2").reshape(-1, 2049)
w = np.sort(RandomState(7).choice(len(rows), 3, replace=False))
with h5py.File(f"{d}/valid_idx.h5") as h5:
    ok = np.array_equal(h5["tokens"][...], rows[w]) and np.array_equal(h5["seq_idx"][...], -100 - w) \
        and np.all(h5["split"][...] == 1) and np.all(h5["train_step"][...] == -1)
print(("PASS" if ok else "FAIL") + " pre-tokenised validation windows match numpy")
PY
