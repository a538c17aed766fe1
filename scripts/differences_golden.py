#!/usr/bin/env python3
"""Golden outputs from the Python package `differences` (0.2.0, the version Lesci et al. used)
for `memprof estimate`, in memprof's CSV layout (attgt.csv, agg_{simple,cohort,time,event}.csv).

  python scripts/differences_golden.py generate [--memprof build/memprof] [--out tests/data/differences]
      Writes input panels (differences' own simulate_data, and `memprof simulate` panels) and, for
      never/not-yet-treated x varying/universal x anticipation 0/1, differences' analytic ATT(g,t),
      SEs and aggregations; plus a bootstrap fit (B=1000) per panel for the statistical comparison.
  python scripts/differences_golden.py live --memprof build/memprof --work DIR
      Same, for a fresh `memprof simulate` panel, into DIR (used by the live cross-check test).

Requires the pinned environment in scripts/requirements-differences.txt (numpy<2: differences
0.2.0's dependency linearmodels is compiled against numpy 1.x).
"""
import argparse
import math
import os
import subprocess
import sys
import warnings

warnings.filterwarnings("ignore")


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return "%.17g" % float(v)


def flat(df):
    df = df.copy()
    df.columns = [c[-1] for c in df.columns]
    return df


def write_table(path, key_name, rows):
    """rows: list of (key, ATT, se, lower, upper, star)"""
    with open(path, "w") as f:
        f.write((key_name + "," if key_name else "") + "ATT,std_error,lower,upper,zero_not_in_cband\n")
        for key, att, se, lo, hi, star in rows:
            f.write((str(key) + "," if key_name else "") + ",".join([fmt(att), fmt(se), fmt(lo), fmt(hi), star]) + "\n")


def star(v):
    return "*" if v == "*" else ""


def run_differences(csv_path, outdir, control, base, delta, boot=0):
    import pandas as pd
    from differences import ATTgt

    df = pd.read_csv(csv_path)
    df["cohort"] = df["cohort"].astype(float)  # empty → NaN = never treated (differences' coding)
    # differences counts anticipation in units of the time variable; memprof (like R did) in
    # periods of the grid. On an evenly spaced grid, δ periods = δ · spacing time units.
    times = sorted(df["time"].unique())
    spacing = times[1] - times[0]
    assert all(b - a == spacing for a, b in zip(times, times[1:])), "uneven time grid"
    df = df.set_index(["unit", "time"])
    os.makedirs(outdir, exist_ok=True)
    att = ATTgt(data=df, cohort_name="cohort", base_period=base, anticipation=int(delta * spacing))
    res = att.fit("y", est_method="dr", control_group=control, boot_iterations=boot,
                  random_state=1234 if boot else None, n_jobs=1, progress_bar=False)
    r = flat(res).reset_index()
    with open(os.path.join(outdir, "attgt.csv"), "w") as f:
        f.write("cohort,base_period,time,ATT,std_error,lower,upper,zero_not_in_cband\n")
        for _, x in r.iterrows():
            f.write("%d,%d,%d,%s,%s,%s,%s,%s\n" % (x["cohort"], x["base_period"], x["time"], fmt(x["ATT"]),
                                                 fmt(x["std_error"]), fmt(x["lower"]), fmt(x["upper"]),
                                                 star(x["zero_not_in_cband"])))
    if boot:
        return
    s = flat(att.aggregate("simple"))
    write_table(os.path.join(outdir, "agg_simple.csv"), None,
                [(None, x["ATT"], x["std_error"], x["lower"], x["upper"], star(x["zero_not_in_cband"])) for _, x in s.iterrows()])
    for kind, key in (("cohort", "cohort"), ("time", "time"), ("event", "relative_period")):
        t = flat(att.aggregate(kind))
        o = flat(att.aggregate(kind, overall=True))
        rows = [(int(k), x["ATT"], x["std_error"], x["lower"], x["upper"], star(x["zero_not_in_cband"])) for k, x in t.iterrows()]
        rows += [("overall", x["ATT"], x["std_error"], x["lower"], x["upper"], star(x["zero_not_in_cband"])) for _, x in o.iterrows()]
        write_table(os.path.join(outdir, "agg_%s.csv" % kind), key, rows)


def differences_panel(path, seed):
    """differences' own simulate_data, as a long CSV unit,time,cohort,y. simulate_data does not
    take a seed and is not fully determined by numpy's global seed, so the panel is committed
    beside its golden outputs (regenerating rewrites both)."""
    import numpy as np
    from differences import simulate_data

    np.random.seed(seed)
    df = simulate_data(nentity=600, ntime=8, n_cohorts=3).reset_index()
    with open(path, "w") as f:
        f.write("unit,time,cohort,y\n")
        for _, x in df.iterrows():
            c = "" if math.isnan(x["cohort"]) else "%d" % x["cohort"]
            f.write("%s,%d,%s,%.17g\n" % (x["entity"], x["time"], c, x["y"]))


def memprof_panel(memprof, path, seed):
    subprocess.run([memprof, "simulate", "--cohorts", "5", "--per-cohort", "60", "--never", "200",
                    "--checkpoints", "8", "--seed", str(seed), "--out-csv", path], check=True)


CONFIGS = [(c, b, d) for c in ("never_treated", "not_yet_treated") for b in ("varying", "universal") for d in (0, 1)]


def make_all(panels, out):
    for name, csv in panels:
        for control, base, delta in CONFIGS:
            d = os.path.join(out, "%s_%s_%s_d%d" % (name, control, base, delta))
            print("differences:", d, flush=True)
            run_differences(csv, d, control, base, delta)
        for control in ("never_treated", "not_yet_treated"):
            d = os.path.join(out, "%s_%s_varying_d0_boot1000" % (name, control))
            print("differences:", d, flush=True)
            run_differences(csv, d, control, "varying", 0, boot=1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["generate", "live"])
    ap.add_argument("--memprof", default="build/memprof")
    ap.add_argument("--out", default="tests/data/differences")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    out = a.out if a.mode == "generate" else a.work
    os.makedirs(out, exist_ok=True)
    panels = []
    if a.mode == "generate":
        p = os.path.join(out, "panel_diffsim.csv"); differences_panel(p, 20240811); panels.append(("diffsim", p))
        p = os.path.join(out, "panel_memsim.csv"); memprof_panel(a.memprof, p, 7); panels.append(("memsim", p))
    else:
        p = os.path.join(out, "panel_live.csv"); memprof_panel(a.memprof, p, 99); panels.append(("live", p))
    make_all(panels, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
