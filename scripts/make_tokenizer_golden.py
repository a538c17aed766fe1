#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/golden_extra.jsonl: texts, the ids Hugging Face
`tokenizers` gives for them and its normalised text ("nfc") with data/gpt-neox-20b-tokenizer.json (the independent reference
for tests/unit/test_tokenizer.c).

Usage: python3 scripts/make_tokenizer_golden.py [--out PATH] [--seed N]
Cases: hand-written edge cases (whitespace runs, specials, contractions, numbers, code,
NFC-sensitive sequences) plus seeded random strings drawn per Unicode general category.
"""
import argparse
import json
import random
import sys
import unicodedata

import tokenizers

HAND_WRITTEN = [
    "", "a", " a", "a ", "  a", "a  ", "a  b  c", "\t", "\t\t", " \t ", "\n", "\n\n\n", "\r\n", "\r\n\r\n",
    "x" + " " * 25 + "y", " " * 48, " " * 49 + "z", " " * 100, "a" + " " * 24 + "b", "a" + " " * 23 + "\nb",
    "\u00a0", "a\u00a0b", "a\u00a0\u00a0b", "\u3000x\u3000", "\u2028line\u2029para", "\u0085next",
    "\u200bzero\u200bwidth", "\ufeffbom",
    "<|endoftext|>", "<|padding|>", "a<|endoftext|>b", "<|endoftext|><|endoftext|>", " <|endoftext|> ",
    "<|endoftext|", "<|endoftext|>  x", "  <|padding|>  ", "<|ENDOFTEXT|>", "<<|endoftext|>>",
    "I'm", "you're", "we've", "he'll", "she'd", "it's", "don't", "I'M", "Y'ALL", "'s'tre'", "''s", " 's",
    "0", "12", "123456789", "3.14159", "1,000,000", "-42", "1e-9", "٣٤٥", "Ⅻ", "½", "²³", "१२३", "𝟙𝟚𝟛",
    "def f(x):\n    return x ** 2\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
    "    if x:\n        y = {'a': [1, 2, 3]}\n", "<div class=\"x\">&amp;</div>", "SELECT * FROM t WHERE id=1;",
    "https://example.com/path?q=1&r=2#frag", "user@example.org", "$$\\frac{a}{b}$$", "~~~===---+++***",
    "Café", "Cafe\u0301", "e\u0301\u0302", "\u1100\u1161\u11a8", "한국어", "Å", "A\u030a", "\u212b", "ﬁ", "Ω",
    "日本語のテキスト", "中文文本，标点。", "Ελληνικά", "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย",
    "😀", "👨‍👩‍👧‍👦", "🇩🇪", "a😀b", " 😀 ", "\U0010fffd", "\U0001f600\U0001f601",
    "\x00", "a\x00b", "\x01\x02\x1f\x7f", "\u0000<|endoftext|>",
    "Mr. O'Neil's 2nd-place finish—\"amazing\" (really).", "...", "!!!", "?!", "«quoted»", "“smart” ‘quotes’",
]

CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
              "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co"]


def chars_by_category():
    table = {c: [] for c in CATEGORIES}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        category = unicodedata.category(chr(cp))
        if category in table:
            table[category].append(chr(cp))
    return table


def random_cases(rng, table, count):
    pieces = ["a", "the", "The", " ", "  ", "   ", "\n", "\t", "0", "42", "'s", "'ll", ".", ",", "<|endoftext|>"]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.4:
                parts.append(rng.choice(pieces))
            else:
                category = rng.choice(CATEGORIES)
                parts.append("".join(rng.choice(table[category]) for _ in range(rng.randint(1, 4))))
        out.append("".join(parts))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default="data/gpt-neox-20b-tokenizer.json")
    parser.add_argument("--out", default="tests/fixtures/tokenizer/golden_extra.jsonl")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--random", type=int, default=600, help="number of random strings")
    args = parser.parse_args()
    tok = tokenizers.Tokenizer.from_file(args.tokenizer)
    rng = random.Random(args.seed)
    table = chars_by_category()
    texts = HAND_WRITTEN + [" " * n for n in range(2, 31)] + ["w" + " " * n + "w" for n in range(1, 60)]
    texts += ["x" + "\t" * n + " " * (n % 5) + "y" for n in range(1, 8)]
    for category in CATEGORIES:  # every category alone, after a space and between letters
        sample = "".join(rng.choice(table[category]) for _ in range(6))
        texts += [sample, " " + sample, "ab" + sample + "cd"]
    texts += random_cases(rng, table, args.random)
    # Mark sequences across all combining classes and Unicode ages (NFC reordering and the
    # Unicode 9.0 tables HF normalises with).
    marks = [c for c in table["Mn"] + table["Mc"] if unicodedata.combining(c)]
    bases = "aeoAEOknاא가"
    for _ in range(150):
        texts.append("".join(rng.choice(bases) + "".join(rng.choice(marks) for _ in range(rng.randint(1, 4)))
                             for _ in range(rng.randint(1, 3))))
    with open(args.out, "w", encoding="utf-8") as out:
        for text in texts:
            ids = tok.encode(text).ids
            nfc = tok.normalizer.normalize_str(text)
            out.write(json.dumps({"text": text, "ids": ids, "nfc": nfc}, ensure_ascii=True) + "\n")
    print(f"wrote {len(texts)} cases to {args.out} with tokenizers {tokenizers.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
