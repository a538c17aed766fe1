#!/usr/bin/env python3
"""make_effects.py — writes a synthetic effects.h5 in the pinned layout (docs/formats.md
"File formats") with h5py, independently of memprof's writer, for plot/compare tests.

  make_effects.py OUT.h5 [--model NAME] [--seed S] [--cohorts G] [--times T] [--step S]
                  [--sign -1|1] [--round DIGITS] [--drop DATASET] [--format NAME] [--no-overall-flag]

Cells: every cohort g in {step, 2*step, ..., G*step} × checkpoint t in {step, ..., T*step}.
ATT(g,t) = −(0.8·0.7^((t−g)/step) + 0.1) for t ≥ g (raw: lower is more memorised with sign −1),
plus N(0, 0.05) noise; SE 0.05; band ± 3·SE; cells with t < g are noise only.
--round rounds ATT to DIGITS decimals (ties for the rank correlations).
"""
import argparse

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", default="synthetic")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cohorts", type=int, default=8)
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--step", type=int, default=1000)
    ap.add_argument("--sign", type=int, default=-1)
    ap.add_argument("--round", type=int, default=None)
    ap.add_argument("--drop", default=None, help="leave this dataset out (bad-input tests)")
    ap.add_argument("--format", default="memprof-effects")
    ap.add_argument("--no-overall-flag", action="store_true", help="omit /agg/*/is_overall")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cohorts, times = [], []
    for g in range(1, a.cohorts + 1):
        for t in range(1, a.times + 1):
            cohorts.append(g * a.step)
            times.append(t * a.step)
    cohort, time = np.array(cohorts, dtype=np.int64), np.array(times, dtype=np.int64)
    e = (time - cohort) // a.step
    post = e >= 0
    att = np.where(post, 0.8 * 0.7 ** np.maximum(e, 0) + 0.1, 0.0) * a.sign + rng.normal(0, 0.05, len(cohort))
    if a.round is not None:
        att = np.round(att, a.round)
    se = np.full(len(att), 0.05)
    lower, upper = att - 3 * se, att + 3 * se
    significant = ((lower > 0) | (upper < 0)).astype(np.uint8)
    base = np.where(post, cohort - a.step, time - a.step)

    datasets = {
        "/attgt/cohort": cohort, "/attgt/base_period": base.astype(np.int64), "/attgt/time": time,
        "/attgt/att": att, "/attgt/se": se, "/attgt/lower": lower, "/attgt/upper": upper,
        "/attgt/significant": significant,
    }

    def agg(name, keys, groups, overall_mask):
        rows_att = [att[m].mean() for m in groups] + [att[overall_mask].mean()]
        rows_att = np.array(rows_att)
        rows_se = np.full(len(rows_att), 0.03)
        lo, hi = rows_att - 2 * rows_se, rows_att + 2 * rows_se
        datasets[f"/agg/{name}/key"] = np.array(list(keys) + [0], dtype=np.int64)
        datasets[f"/agg/{name}/att"] = rows_att
        datasets[f"/agg/{name}/se"] = rows_se
        datasets[f"/agg/{name}/lower"] = lo
        datasets[f"/agg/{name}/upper"] = hi
        datasets[f"/agg/{name}/significant"] = ((lo > 0) | (hi < 0)).astype(np.uint8)
        if not a.no_overall_flag:
            flag = np.zeros(len(rows_att), dtype=np.uint8)
            flag[-1] = 1
            datasets[f"/agg/{name}/is_overall"] = flag

    agg("simple", [], [], post)
    gs = sorted(set(cohort.tolist()))
    agg("cohort", gs, [post & (cohort == g) for g in gs], post)
    ts = sorted(set(time[post].tolist()))
    agg("time", ts, [post & (time == t) for t in ts], post)
    es = sorted(set((time - cohort).tolist()))
    agg("event", es, [(time - cohort) == k for k in es], post)

    with h5py.File(a.out, "w") as f:
        for path, value in datasets.items():
            if path != a.drop:
                f.create_dataset(path, data=value)
        # fixed-length strings, as the pinned layout requires
        for k, v in {"format": a.format, "memprof_version": "test", "model": a.model, "metric": "sup_seq",
                     "control_group": "never_treated", "base_period": "varying"}.items():
            f.attrs[k] = np.bytes_(v.encode())
        f.attrs["format_version"] = np.int64(1)
        f.attrs["memorisation_sign"] = np.int64(a.sign)
        f.attrs["alpha"] = 0.05
        f.attrs["anticipation"] = np.int64(0)
        f.attrs["bootstrap"] = np.int64(0)
        f.attrs["seed"] = np.int64(a.seed)
        f.attrs["critical_value"] = 3.0
        f.attrs["n_units"] = np.int64(1000)


if __name__ == "__main__":
    main()
