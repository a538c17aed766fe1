#!/usr/bin/env python3
"""Independent reference for `memprof panel` (numpy's legacy RandomState, HF tokenizers, h5py).

  panel_reference.py sample [--seed 1994 --cohorts 143 --batches-per-cohort 1000
                             --batches-drawn 10 --batch-size 1024 --sequences-drawn 10]
      the paper's draw (pietrolesci/memorisation-profiles scripts/sample_pile.py), sorted, one per line
  panel_reference.py make-fixture DIR
      a small sharded "preshuffled Pile" (document.idx + 3 .bin shards of odd sizes),
      indices.txt, and validation text valid.jsonl
  panel_reference.py check PANEL DIR --valid-count N [--valid-seed 1234] [--batch-size 4]
      recomputes the expected panel from DIR and compares every dataset of PANEL
  panel_reference.py check-synthetic PANEL --vocab-size N
      checks the synthetic panel's invariants
"""
import argparse
import json
import sys

import numpy as np
from numpy.random import RandomState

LENGTH = 2049
SAMPLES = 12


def paper_sample(seed, cohorts, per_cohort, batches_drawn, batch_size, sequences_drawn):
    rng = RandomState(seed)
    out = []
    for cohort in range(cohorts):
        batches = rng.choice(range(per_cohort), batches_drawn, replace=False) + per_cohort * cohort
        for batch in batches:
            seqs = rng.choice(range(batch_size), sequences_drawn, replace=False) + batch_size * batch
            out.extend(int(s) for s in seqs)
            rng = RandomState(rng.randint(1_000_000))
    return out


def make_fixture(directory):
    rng = np.random.default_rng(7)
    tokens = rng.integers(2, 50277, size=SAMPLES * LENGTH, dtype=np.uint16)
    raw = tokens.astype("<u2").tobytes()
    cuts = [0, 4099, 4099 + 8193, len(raw)]  # odd sizes: samples and a token straddle shards
    for i in range(3):
        with open(f"{directory}/document-{i:05d}-of-00002.bin", "wb") as f:
            f.write(raw[cuts[i]:cuts[i + 1]])
    with open(f"{directory}/document.idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + np.array([1], "<u8").tobytes() + bytes([8]))
        f.write(np.array([SAMPLES, SAMPLES + 1], "<u8").tobytes())
        f.write(np.full(SAMPLES, LENGTH, "<i4").tobytes())
        f.write((np.arange(SAMPLES, dtype="<i8") * 2 * LENGTH).tobytes())
        f.write(np.arange(SAMPLES + 1, dtype="<i8").tobytes())
    with open(f"{directory}/indices.txt", "w") as f:
        f.write("# training samples\n9\n1\n4\n11\n")
    words = ["the", "memorisation", "Pythia", "  ", "\n", "1994", "café", "naïve", "日本", "😀", "don't", "x=1;", "\t"]
    with open(f"{directory}/valid.jsonl", "w") as f:
        for d in range(400):
            text = " ".join(words[int(k)] for k in rng.integers(0, len(words), size=int(rng.integers(5, 120))))
            f.write(json.dumps({"text": text, "meta": {"doc": d}}) + "\n")


def expected_validation(directory, tokenizer_path, seed, count):
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(tokenizer_path)
    stream = []
    with open(f"{directory}/valid.jsonl") as f:
        for line in f:
            stream.extend(tok.encode(json.loads(line)["text"]).ids)
    n_windows = len(stream) // LENGTH
    windows = np.sort(RandomState(seed).choice(n_windows, count, replace=False))
    rows = np.array([stream[w * LENGTH:(w + 1) * LENGTH] for w in windows], dtype=np.uint16)
    return windows, rows


def check(args):
    import h5py
    failures = []
    with h5py.File(args.panel, "r") as h5:
        tokens, seq_idx = h5["tokens"][...], h5["seq_idx"][...]
        split, train_step = h5["split"][...], h5["train_step"][...]
        attrs = dict(h5.attrs)
        chunks = h5["tokens"].chunks
    raw = b"".join(open(f"{args.dir}/document-{i:05d}-of-00002.bin", "rb").read() for i in range(3))
    pile = np.frombuffer(raw, dtype="<u2").reshape(-1, LENGTH)
    train = sorted(int(x) for x in open(f"{args.dir}/indices.txt") if x.strip() and not x.startswith("#"))
    windows, valid_rows = expected_validation(args.dir, args.tokenizer, args.valid_seed, args.valid_count)
    expect_tokens = np.concatenate([pile[train], valid_rows])
    expect_seq = np.concatenate([np.array(train), -100 - windows])
    expect_split = np.array([0] * len(train) + [1] * len(windows), dtype=np.uint8)
    expect_step = np.concatenate([np.array(train) // args.batch_size, -np.ones(len(windows), dtype=np.int64)])
    for name, got, want in [("tokens", tokens, expect_tokens), ("seq_idx", seq_idx, expect_seq),
                            ("split", split, expect_split), ("train_step", train_step, expect_step)]:
        if got.shape != want.shape or not np.array_equal(got, want):
            failures.append(f"{name} differs (shape {got.shape} vs {want.shape})")
    if tokens.dtype != np.uint16 or seq_idx.dtype != np.int64 or split.dtype != np.uint8 or train_step.dtype != np.int64:
        failures.append("dtypes differ from the pinned layout")
    if chunks is None or chunks[1] != LENGTH:
        failures.append(f"/tokens not chunked by rows: {chunks}")
    def text(value):
        return value.decode() if isinstance(value, bytes) else str(value)
    if text(attrs.get("format")) != "memprof-panel" or int(attrs.get("format_version", 0)) != 1:
        failures.append(f"format attributes wrong: {attrs.get('format')!r} {attrs.get('format_version')!r}")
    if args.tokenizer_sha256 and text(attrs.get("tokenizer_sha256")) != args.tokenizer_sha256:
        failures.append("tokenizer_sha256 attribute wrong")
    for failure in failures:
        print(f"FAIL panel reference: {failure}")
    if not failures:
        print(f"PASS panel matches numpy + HF tokenizers reference ({len(train)} training, {len(windows)} held out)")
    return 1 if failures else 0


def check_synthetic(args):
    import h5py
    with h5py.File(args.panel, "r") as h5:
        tokens, seq_idx = h5["tokens"][...], h5["seq_idx"][...]
        split, train_step = h5["split"][...], h5["train_step"][...]
    train = split == 0
    ok = (tokens.max() < args.vocab_size and tokens.min() >= 2 and train.any() and (~train).any()
          and np.array_equal(train_step[train], seq_idx[train] // args.batch_size)
          and np.all(train_step[~train] == -1) and np.all(seq_idx[~train] <= -100)
          and len(np.unique(seq_idx)) == len(seq_idx))
    print(("PASS" if ok else "FAIL") + " synthetic panel invariants" + ("" if ok else ": violated"))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--seed", type=int, default=1994)
    s.add_argument("--cohorts", type=int, default=143)
    s.add_argument("--batches-per-cohort", type=int, default=1000)
    s.add_argument("--batches-drawn", type=int, default=10)
    s.add_argument("--batch-size", type=int, default=1024)
    s.add_argument("--sequences-drawn", type=int, default=10)
    m = sub.add_parser("make-fixture")
    m.add_argument("dir")
    c = sub.add_parser("check")
    c.add_argument("panel")
    c.add_argument("dir")
    c.add_argument("--tokenizer", default="data/gpt-neox-20b-tokenizer.json")
    c.add_argument("--tokenizer-sha256", default="")
    c.add_argument("--valid-seed", type=int, default=1234)
    c.add_argument("--valid-count", type=int, required=True)
    c.add_argument("--batch-size", type=int, default=4)
    y = sub.add_parser("check-synthetic")
    y.add_argument("panel")
    y.add_argument("--vocab-size", type=int, default=1024)
    y.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    if args.command == "sample":
        indices = paper_sample(args.seed, args.cohorts, args.batches_per_cohort, args.batches_drawn, args.batch_size,
                               args.sequences_drawn)
        sys.stdout.write("".join(f"{i}\n" for i in sorted(indices)))
        return 0
    if args.command == "make-fixture":
        make_fixture(args.dir)
        return 0
    if args.command == "check":
        return check(args)
    return check_synthetic(args)


if __name__ == "__main__":
    sys.exit(main())
