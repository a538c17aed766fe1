#!/usr/bin/env python3
"""Independent references for the sweep tests (h5py + the CSV of `memprof score`).

  sweep_reference.py tokens PANEL OUT.txt
      the panel's rows as a token file for `memprof score` (one row per line)
  sweep_reference.py compare STATS.h5 LABEL ROW:CSV ...
      /stats/<metric>[ROW, :] must equal the score CSV bit for bit (%.17g parses exactly);
      ROW:nan means the whole row must be NaN (a failed checkpoint)
  sweep_reference.py layout STATS.h5 C N SHARD [PANEL]
      the pinned stats.h5 layout: names, types, shapes, attributes
Prints PASS/FAIL lines.
"""
import csv
import sys

import h5py
import numpy as np

METRICS = ["sup_seq", "acc_seq", "entr_seq", "avg_rank"]


def tokens(panel, out):
    with h5py.File(panel, "r") as f:
        rows = f["tokens"][...]
    with open(out, "w") as o:
        for r in rows:
            o.write(" ".join(str(int(t)) for t in r) + "\n")


def compare(stats, specs, label):
    ok = True
    with h5py.File(stats, "r") as f:
        data = {m: f["stats/" + m][...] for m in METRICS}
    for spec in specs:
        row, source = spec.split(":", 1)
        row = int(row)
        for m in METRICS:
            got = data[m][row]
            if source == "nan":
                if not np.all(np.isnan(got)):
                    print(f"FAIL {label}: /stats/{m}[{row}] should be NaN (failed checkpoint)"); ok = False
                continue
            with open(source) as fh:
                want = np.array([float(r[m]) for r in csv.DictReader(fh)], dtype=np.float64)
            if got.shape != want.shape or not np.array_equal(got.view(np.uint64), want.view(np.uint64)):
                bad = int(np.argmax(got.view(np.uint64) != want.view(np.uint64))) if got.shape == want.shape else -1
                print(f"FAIL {label}: /stats/{m}[{row}] differs from memprof score (first at instance {bad})"); ok = False
    if ok:
        print(f"PASS {label}")


def layout(stats, C, N, shard):
    C, N, shard = int(C), int(N), int(shard)
    S = (N + shard - 1) // shard
    problems = []
    with h5py.File(stats, "r") as f:
        want = {"instances/seq_idx": ("i8", (N,)), "instances/split": ("u1", (N,)), "instances/train_step": ("i8", (N,)),
                "checkpoints/step": ("i8", (C,)), "done": ("u1", (C, S))}
        for m in METRICS:
            want["stats/" + m] = ("f8", (C, N))
        for name, (dt, shape) in want.items():
            if name not in f:
                problems.append("missing /" + name); continue
            d = f[name]
            if d.dtype.str[1:] != dt or d.shape != shape:
                problems.append(f"/{name} is {d.dtype.str}{d.shape}, want {dt}{shape}")
            if d.compression is not None or d.chunks is not None:
                problems.append(f"/{name} is chunked or filtered")
        for name in ("checkpoints/path", "checkpoints/checksum"):
            d = f[name]
            if d.dtype.kind != "S" or d.shape != (C,):
                problems.append(f"/{name} is not a fixed string [C]")
        if any(not s.startswith(b"xxh64:") for s in f["checkpoints/checksum"][...]):
            problems.append("a checkpoint checksum is missing")
        if f["done"].attrs.get("shard_size") != shard:
            problems.append("/done has no shard_size attribute of " + str(shard))
        a = f.attrs
        for key in ("memprof_version", "model", "backend", "precision", "config", "config_hash", "devices"):
            if key not in a:
                problems.append("root attribute missing: " + key)
        if a.get("format") != b"memprof-stats" or a.get("format_version") != 1:
            problems.append("format attributes wrong")
        with h5py.File(sys.argv[6], "r") if len(sys.argv) > 6 else open("/dev/null") as p:
            if hasattr(p, "keys"):
                for k in ("seq_idx", "split", "train_step"):
                    if not np.array_equal(p[k][...], f["instances/" + k][...]):
                        problems.append(f"/instances/{k} differs from the panel")
    print("PASS sweep: stats.h5 layout" if not problems else "FAIL sweep: stats.h5 layout: " + "; ".join(problems))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "tokens":
        tokens(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[4:], sys.argv[3])
    elif cmd == "layout":
        layout(*sys.argv[2:6])
