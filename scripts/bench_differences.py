#!/usr/bin/env python3
"""Times differences 0.2.0 on a long CSV panel (unit,time,cohort,y) with the paper's call:
fit(est_method="dr", control_group="never_treated", boot_iterations=B, random_state=1234,
n_jobs=J) + aggregate("simple"|"cohort"|"time"|"event") (+ overall). Prints seconds.
usage: bench_differences.py PANEL.csv [B] [n_jobs]"""
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def main():
    path = sys.argv[1]
    B = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    t0 = time.perf_counter()
    import pandas as pd
    from differences import ATTgt
    df = pd.read_csv(path)
    df["cohort"] = df["cohort"].astype(float)
    df = df.set_index(["unit", "time"])
    att = ATTgt(data=df, cohort_name="cohort")
    att.fit("y", est_method="dr", control_group="never_treated", boot_iterations=B, random_state=1234,
            n_jobs=jobs, progress_bar=jobs > 1)  # differences 0.2.0 fails with n_jobs > 1 and no progress bar
    for kind in ("simple", "cohort", "time", "event"):
        att.aggregate(kind)
        if kind != "simple":
            att.aggregate(kind, overall=True)
    print("%.3f" % (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
