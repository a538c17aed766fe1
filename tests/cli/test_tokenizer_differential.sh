#!/usr/bin/env bash
# memprof tokenize vs HF tokenizers on ~8,700 seeded random texts (all Unicode categories and
# planes, NFC-heavy mark sequences): scripts/tokenizer_differential.py.
set -u
MEMPROF=${MEMPROF:-build/memprof}
if ! python3 -c "import tokenizers" 2>/dev/null; then
    echo "SKIP tokenizer differential: HF tokenizers not installed (pip install -r scripts/requirements.txt)"
    exit 0
fi
python3 scripts/tokenizer_differential.py --memprof "$MEMPROF" --seed 1 --count 5000
