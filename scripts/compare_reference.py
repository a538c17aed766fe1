#!/usr/bin/env python3
"""Checks `memprof score --per-token` output against a float64 reference (neox_reference.py).

The criteria of the CUDA backend's acceptance, for a backend computing in fp16 (eps 0.02) or
bf16 (eps 0.1), the reference being float64:
  per sequence with at least 2 predictions: |mean surprisal - ref|, |mean entropy - ref| <= 2e-3
    nats; acc_seq and avg_rank within 0.5% relative (acc_seq also passes when equal);
  per position: |rank - ref rank| <= the number of other logits within eps of the target's in
    the reference (seqK.near_<eps>); correct equal wherever the reference's top-2 gap exceeds eps;
  every row present, with the reference's position and target.
Prints one PASS/FAIL line per check and a summary line per sequence; exits 1 on any failure.

usage: compare_reference.py --reference REF.safetensors --per-token CSV --epsilon 0.02 [--label TEXT]
The CSV's sequences are named as memprof names the reference's own sequences (seqK).
"""
import argparse
import csv
import sys

import numpy as np
from safetensors.numpy import load_file


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--per-token", required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    try:
        ref = load_file(args.reference)
    except Exception as e:
        sys.exit(f"compare_reference.py: {args.reference}: {e}")
    near_key = f"near_{args.epsilon:g}"
    rows = {}
    try:
        with open(args.per_token) as f:
            for line, row in enumerate(csv.DictReader(f), 2):
                try:
                    rows.setdefault(row["seq"], []).append(
                        (int(row["pos"]), int(row["target"]), float(row["surprisal"]), int(row["rank"]),
                         float(row["entropy"]), int(row["correct"])))
                except (KeyError, TypeError, ValueError):
                    sys.exit(f"compare_reference.py: {args.per_token}:{line}: not a --per-token row")
    except OSError as e:
        sys.exit(f"compare_reference.py: {args.per_token}: {e}")
    failures = 0
    prefix = f"{args.label}: " if args.label else ""

    def check(name, ok, why=""):
        nonlocal failures
        print(f"{'PASS' if ok else 'FAIL'} {prefix}{name}" + ("" if ok else f": {why}"))
        failures += 0 if ok else 1

    names = sorted((k.split(".")[0] for k in ref if k.endswith(".input_ids")), key=lambda n: int(n[3:]))
    for name in names:
        if f"{name}.{near_key}" not in ref:
            sys.exit(f"compare_reference.py: {args.reference}: no {name}.{near_key} (made without --epsilon {args.epsilon:g})")
        ids = ref[f"{name}.input_ids"]
        mine = sorted(rows.get(name, []))
        check(f"{name}: one row per predicted position", len(mine) == len(ids) - 1, f"{len(mine)} rows for {len(ids) - 1}")
        if len(mine) != len(ids) - 1:
            continue
        pos, target, surprisal, rank, entropy, correct = (np.array(column) for column in zip(*mine))
        check(f"{name}: positions and targets", (pos == np.arange(len(ids) - 1)).all() and (target == ids[1:]).all(),
              "they differ from the reference's sequence")
        ref_rank, near, gap = ref[f"{name}.rank"], ref[f"{name}.{near_key}"], ref[f"{name}.top2_gap"]
        delta = np.abs(rank - ref_rank)
        excused = int((delta != 0).sum())
        violations = int((delta > near).sum())
        check(f"{name}: |rank difference| within the near-tie allowance (eps {args.epsilon:g})", violations == 0,
              f"{violations} positions")
        wide = gap > args.epsilon
        check(f"{name}: correct equal where the top-2 gap exceeds eps", (correct[wide] == (ref_rank[wide] == 0)).all(),
              f"{int((correct[wide] != (ref_rank[wide] == 0)).sum())} positions")
        check(f"{name}: statistics finite", np.isfinite(surprisal).all() and np.isfinite(entropy).all(), "NaN or inf")
        d_sup = abs(surprisal.mean() - ref[f"{name}.surprisal"].mean())
        d_entr = abs(entropy.mean() - ref[f"{name}.entropy"].mean())
        acc, ref_acc = float((rank == 0).mean()), float((ref_rank == 0).mean())
        avg, ref_avg = float(rank.mean()), float(ref_rank.mean())
        print(f"{prefix}{name}: {len(ids)} tokens, dsup {d_sup:.2e} dentr {d_entr:.2e}, acc {acc:.6f} vs {ref_acc:.6f}, "
              f"avg_rank {avg:.4f} vs {ref_avg:.4f}, {excused} positions with a different rank")
        if len(ids) - 1 < 2:
            continue  # one position: held to the per-position criteria only
        check(f"{name}: mean surprisal and entropy within 2e-3", d_sup <= 2e-3 and d_entr <= 2e-3,
              f"{d_sup:.3g}, {d_entr:.3g}")
        check(f"{name}: acc_seq and avg_rank within 0.5%",
              (relative(acc, ref_acc) <= 5e-3 or abs(acc - ref_acc) < 1e-12) and relative(avg, ref_avg) <= 5e-3,
              f"acc {acc:.6f} vs {ref_acc:.6f}, avg_rank {avg:.4f} vs {ref_avg:.4f}")
    extra = sorted(set(rows) - set(names))
    check("no sequences beyond the reference's", not extra, ", ".join(extra[:5]))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
