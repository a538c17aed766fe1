#!/usr/bin/env python3
"""compare_scipy.py COMPARE.csv A.h5 B.h5 ... — recomputes every pair's coefficients from the
effects files with scipy.stats (pearsonr, spearmanr, kendalltau variant 'b') over the cells both
files hold (matched on cohort and time, memorisation = sign × ATT, finite in both; --post-only
keeps t >= g) and prints PASS/FAIL per pair and coefficient (tolerance 1e-10)."""
import csv
import math
import sys

import h5py
import numpy as np
from scipy import stats


def cells(path, post_only):
    with h5py.File(path, "r") as f:
        sign = int(f.attrs["memorisation_sign"])
        g, t, att = f["/attgt/cohort"][:], f["/attgt/time"][:], f["/attgt/att"][:]
    return {(int(a), int(b)): sign * v for a, b, v in zip(g, t, att) if (b >= a or not post_only)}


def main():
    args = sys.argv[1:]
    post_only = "--post-only" in args
    args = [a for a in args if a != "--post-only"]
    table, files = args[0], args[1:]
    maps = {p: cells(p, post_only) for p in files}
    rows = list(csv.DictReader(open(table)))
    want_pairs = len(files) * (len(files) - 1) // 2
    print(("PASS" if len(rows) == want_pairs else "FAIL") + f" compare-scipy pairs: {len(rows)} rows, {want_pairs} expected")
    for row in rows:
        a, b = maps[row["file_a"]], maps[row["file_b"]]
        keys = sorted(k for k in a if k in b and math.isfinite(a[k]) and math.isfinite(b[k]))
        x, y = np.array([a[k] for k in keys]), np.array([b[k] for k in keys])
        name = f"{row['model_a']}~{row['model_b']}"
        ok = int(row["cells"]) == len(keys)
        print(("PASS" if ok else "FAIL") + f" compare-scipy {name} cells" + ("" if ok else f": {row['cells']} vs {len(keys)}"))
        ref = {"pearson": stats.pearsonr(x, y)[0], "spearman": stats.spearmanr(x, y)[0],
               "kendall_tau_b": stats.kendalltau(x, y, variant="b")[0]}
        for col, want in ref.items():
            got = float(row[col])
            ok = abs(got - want) <= 1e-10
            print(("PASS" if ok else "FAIL") + f" compare-scipy {name} {col}" + ("" if ok else f": {got!r} vs scipy {want!r}"))


if __name__ == "__main__":
    main()
