#!/usr/bin/env python3
"""Differential check of `memprof tokenize` against HF `tokenizers` on seeded random text:
strings mixing every Unicode general category with common pieces, random code points from
all planes, and NFC-heavy strings (combining marks, canonical decompositions, Hangul jamo).
Prints "PASS ..." or "FAIL ..." lines (used by tests/cli/test_tokenizer_differential.sh).

Usage: python3 scripts/tokenizer_differential.py [--memprof build/memprof] [--seed 1] [--count 5000]
"""
import argparse
import json
import random
import subprocess
import sys
import unicodedata

import tokenizers

sys.path.insert(0, "scripts")
import make_tokenizer_golden as golden  # noqa: E402  (shared category tables)


def texts_for(seed, count):
    rng = random.Random(seed)
    table = golden.chars_by_category()
    texts = golden.random_cases(rng, table, count)
    for _ in range(count // 4):
        texts.append("".join(chr(rng.choice([rng.randrange(0x20, 0x3000), rng.randrange(0x3000, 0x30000),
                                             rng.randrange(0xE0000, 0x110000)])) for _ in range(rng.randint(1, 20))))
    marks = [chr(c) for c in range(0x300, 0x20000) if unicodedata.combining(chr(c))]
    composed = [chr(c) for c in range(0xC0, 0x30000)
                if unicodedata.decomposition(chr(c)) and not unicodedata.decomposition(chr(c)).startswith("<")]
    pool = marks + composed + [chr(c) for c in range(0x1100, 0x1200)] + list("aeiouAEIOU nN\u05d0\u0627")
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 16))) for _ in range(count // 2)]
    return [t for t in texts if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memprof", default="build/memprof")
    parser.add_argument("--tokenizer", default="data/gpt-neox-20b-tokenizer.json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    tok = tokenizers.Tokenizer.from_file(args.tokenizer)
    texts = texts_for(args.seed, args.count)
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    out = subprocess.run([args.memprof, "tokenize", "--tokenizer", args.tokenizer, "--threads", "2"], input=stdin,
                         capture_output=True)
    got = [json.loads(line)["ids"] for line in out.stdout.decode().splitlines()]
    want = [encoding.ids for encoding in tok.encode_batch(texts)]
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    if out.returncode != 0 or len(got) != len(want) or bad:
        example = f"; first: {texts[bad[0]]!r}" if bad else ""
        print(f"FAIL tokenizer vs HF tokenizers {tokenizers.__version__} (seed {args.seed}): rc {out.returncode}, "
              f"{len(got)}/{len(want)} lines, {len(bad)} differ{example}")
        return 1
    print(f"PASS tokenizer = HF tokenizers {tokenizers.__version__} on {len(texts)} random texts (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
