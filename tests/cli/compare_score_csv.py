#!/usr/bin/env python3
"""Compares `memprof score` CSV output with a fixture's float64 HF reference (numpy only).

usage: compare_score_csv.py REFERENCE.safetensors OUTPUT.csv per-token|per-sequence NAME_PREFIX
Prints PASS/FAIL lines. Sequence names in the CSV are NAME_PREFIX + index (e.g. "seq" → seq0;
"" with 1-based numbering when NAME_PREFIX is "line").
"""
import csv
import sys

import numpy as np
from safetensors.numpy import load_file


def main():
    reference_path, output_path, mode, prefix = sys.argv[1:5]
    ref = load_file(reference_path)
    names = sorted({k.split(".")[0] for k in ref if k.endswith(".input_ids")})
    rows = list(csv.DictReader(open(output_path)))
    failures = 0

    def check(name, ok, why):
        nonlocal failures
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))
        failures += 0 if ok else 1

    for index, seq in enumerate(names):
        label = f"{index + 1}" if prefix == "line" else seq
        surprisal = ref[f"{seq}.surprisal"]
        entropy = ref[f"{seq}.entropy"]
        rank = ref[f"{seq}.rank"]
        margin = ref[f"{seq}.target_margin"]
        ids = ref[f"{seq}.input_ids"]
        if mode == "per-token":
            mine = [r for r in rows if r["seq"] == label]
            check(f"{label}: one row per predicted position", len(mine) == len(ids) - 1, f"{len(mine)} rows")
            if len(mine) != len(ids) - 1:
                continue
            pos = np.array([int(r["pos"]) for r in mine])
            target = np.array([int(r["target"]) for r in mine])
            s = np.array([float(r["surprisal"]) for r in mine])
            e = np.array([float(r["entropy"]) for r in mine])
            k = np.array([int(r["rank"]) for r in mine])
            c = np.array([int(r["correct"]) for r in mine])
            check(f"{label}: pos and target columns", (pos == np.arange(len(ids) - 1)).all() and (target == ids[1:]).all(),
                  "positions or targets differ")
            check(f"{label}: surprisal within 1e-4", np.abs(s - surprisal).max() <= 1e-4, f"{np.abs(s - surprisal).max()}")
            check(f"{label}: entropy within 1e-4", np.abs(e - entropy).max() <= 1e-4, f"{np.abs(e - entropy).max()}")
            wide = margin >= 1e-5
            check(f"{label}: rank exact where margin >= 1e-5", (k[wide] == rank[wide]).all(),
                  f"{(k[wide] != rank[wide]).sum()} mismatches")
            check(f"{label}: correct == (rank == 0)", (c == (k == 0)).all(), "inconsistent")
        else:
            mine = [r for r in rows if r["seq"] == label]
            check(f"{label}: one row", len(mine) == 1, f"{len(mine)} rows")
            if len(mine) != 1:
                continue
            r = mine[0]
            n = len(ids) - 1
            check(f"{label}: n_pred", int(r["n_pred"]) == n, r["n_pred"])
            check(f"{label}: sup_seq within 1e-4", abs(float(r["sup_seq"]) - surprisal.mean()) <= 1e-4,
                  f'{r["sup_seq"]} vs {surprisal.mean()}')
            check(f"{label}: entr_seq within 1e-4", abs(float(r["entr_seq"]) - entropy.mean()) <= 1e-4,
                  f'{r["entr_seq"]} vs {entropy.mean()}')
            # Positions whose margin is tiny may legitimately move the rank by a few.
            slack = (margin < 1e-5).sum()
            check(f"{label}: acc_seq", abs(float(r["acc_seq"]) - (rank == 0).mean()) <= slack / n + 1e-12,
                  f'{r["acc_seq"]} vs {(rank == 0).mean()}')
            check(f"{label}: avg_rank", abs(float(r["avg_rank"]) - rank.mean()) <= 3 * slack / n + 1e-12,
                  f'{r["avg_rank"]} vs {rank.mean()}')
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
