#!/usr/bin/env python3
"""One table from a GPU call's logs: every `memprof bench --backend cuda` record of the given
files, grouped by size, precision and what it ran with, against the default kernels of the
same binary on the same card, against the `BASE` binary, against the targets, and the HF
baseline of the same call against the H100 table (does the call count for the issues?) —
so that a session reads its call's verdicts instead of its logs.

usage: device-summary.py FILE... (bench.txt, large.log, device-check.log, hf.json, hf-large.json; folders are searched)

A record is a bench's "bench SIZE on cuda (PREC)" line with its "tokens/s", "gpu", "kernels"
and "settings" lines, labelled by the nearest "-- " line before it. What it ran with is its
"settings" line (the MEMPROF_* settings other than auto; benches of this project since
2026-11-28) or else what the label names (device-check.sh's "HEAD LM head, ATT attention, …",
"MEMPROF_X=Y"); a label naming the baseline binary marks the `BASE` binary's runs. Profiled
runs (MEMPROF_CUDA_PROFILE) are left out of the throughput table (their events slow them) and
shown with their step times instead.

Where the benches print each run's seconds ("run seconds:", since 2026-11-28), each row's runs
are tested against its default's (the BASE binary's default against the new binary's) with an
exact two-sided permutation test of Mann-Whitney's U: "faster"/"slower" at p < 0.05, else "no
difference shown". A ratio of medians says how much; the test says whether the runs' spread
leaves it standing (5 runs against 5 can show it, 3 against 3 never can).

The issues' targets are H100 figures, counted only where the HF baseline of the same call is
within ±10% of the H100 table (../shared/docs/performance.md); on another card (the H200: its
memory is faster, its tensor cores the same) the table gives the standing as the same-card
ratio memprof ÷ HF next to the target's ratio to the table (6.1× at 70m … 1.18× at 12b).
"""
import itertools
import json
import math
import os
import re
import statistics
import sys

# size: (fp16 and bf16 target tokens/s, HF forward + statistics tokens/s of the H100 table)
TARGETS = {"70m": 3_500_000, "160m": 1_500_000, "410m": 650_000, "1.4b": 220_000, "2.8b": 110_000,
           "6.9b": 43_000, "12b": 26_500}
HF_TABLE = {"70m": 571_351, "160m": 431_727, "410m": 262_922, "1.4b": 131_424, "2.8b": 73_793,
            "6.9b": 36_780, "12b": 22_415}
SIZE_ORDER = ["14m", "70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b"]
# device-check.sh's label fields: "<value> LM head", "<value> attention", …
LABEL_FIELDS = [("LM head", "MEMPROF_LM_HEAD"), ("attention", "MEMPROF_ATTENTION"), ("up GEMM", "MEMPROF_UP_GEMM"),
                ("residual GEMM", "MEMPROF_RESIDUAL_GEMM"), ("statistics SMs", "MEMPROF_STATISTICS_SMS"),
                ("rotary", "MEMPROF_ROTARY")]

BENCH = re.compile(r"^bench (\S+) on cuda \((\w+)\): (\d+) sequences x (\d+) tokens(?:.*at most ([\d.]+) GB of GPU memory)?")
TOKENS = re.compile(r"^\s+tokens/s: (\d+) \(median of (\d+) runs")
GPU = re.compile(r"^\s+gpu: SM clock median (\d+) MHz.*power median ([\d.]+) W")
STEP = re.compile(r"^(?:.*warn:)?\s{2,3}(\S.*?)\s+([\d.]+) ms\s+[\d.]+%\s+\d+ calls")
PROFILE = re.compile(r"cuda profile \((.*)\): ([\d.]+) ms of GPU time")


def settings_from_label(label):
    settings = dict(re.findall(r"(MEMPROF_[A-Z_]+)=(\S+?)[,;]?(?=\s|$)", label))
    for name, variable in LABEL_FIELDS:
        found = re.search(r"(?:^|[ ,])([\w.-]+) " + name + r"(?:,|$)", label)
        if found and found.group(1) != "auto":
            settings[variable] = found.group(1)
    if re.search(r"default kernels", label):
        settings.pop("MEMPROF_CUDA_PROFILE", None)
    if "MEMPROF_CUDA_PROFILE=1" in label:
        settings["MEMPROF_CUDA_PROFILE"] = "1"
    return {k: v for k, v in settings.items() if v != "auto"}


def read_log(path, records):
    label, profile, header = "", {}, None
    record, section = None, ""
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("-- "):
                label, profile, header, record = line[3:], {}, None, None
                continue
            if line.startswith("== "):
                label, profile, header, record, section = "", {}, None, None, line
                continue
            found = PROFILE.search(line)
            if found:
                header, profile = found.group(1), {}
                continue
            found = STEP.search(line)
            if found and header is not None:
                profile[found.group(1)] = float(found.group(2))
                continue
            found = BENCH.match(line)
            if found and "ncu" in section:  # a bench under Nsight Compute: its time is not a throughput
                record, profile, header = None, {}, None
                continue
            if found:
                record = {"size": found.group(1), "precision": found.group(2), "sequences": int(found.group(3)),
                          "label": label, "file": path, "baseline": "baseline binary" in label,
                          "settings": settings_from_label(label), "profile": profile, "profile_header": header}
                if header is not None:
                    record["settings"]["MEMPROF_CUDA_PROFILE"] = "1"
                if found.group(5):
                    record["cap"] = found.group(5)
                records.append(record)
                profile, header, label = {}, None, ""  # a label names the one bench after it
                continue
            if record is None:
                continue
            found = TOKENS.match(line)
            if found:
                record["tokens"], record["runs"] = int(found.group(1)), int(found.group(2))
            if line.startswith("  run seconds: "):
                record["times"] = [float(t) for t in line[len("  run seconds: "):].split()]
            found = GPU.match(line)
            if found:
                record["clock"], record["power"] = int(found.group(1)), float(found.group(2))
            if line.startswith("  kernels: "):
                record["kernels"] = line[len("  kernels: "):]
            if line.startswith("  settings: "):
                words = line[len("  settings: "):].split()
                record["settings"] = dict(w.split("=", 1) for w in words if "=" in w)


def read_hf(path, hf):
    with open(path) as f:
        for row in json.load(f):
            if row.get("statistics_tokens_per_s"):
                hf.setdefault(row["size"], []).append(row["statistics_tokens_per_s"])


def describe(settings, record=None):
    """What a run ran with, as (variant, conditions): the settings (and a memory cap), then a
    sequence count other than the bench's default 64 and whether it was profiled (CUDA events
    between the steps slow it a little), which only runs of the same conditions compare."""
    shown = {k: v for k, v in settings.items() if k != "MEMPROF_CUDA_PROFILE"}
    variant = ", ".join(f"{k[len('MEMPROF_'):].lower()}={v}" for k, v in sorted(shown.items())) or "default"
    conditions = ""
    if record is not None and record.get("cap"):
        variant += f", at most {record['cap']} GB"
    if record is not None and record["sequences"] != 64:
        conditions += f", {record['sequences']} sequences"
    if "MEMPROF_CUDA_PROFILE" in settings:
        conditions += " (profiled)"
    return variant, conditions


def median(values):
    return statistics.median(values) if values else None


def rank_test(times, reference):
    """Two-sided exact permutation test of the Mann-Whitney U statistic: is one bench's run time
    shifted against another's? Returns (p, direction): direction -1 when `times` are the shorter
    (faster), +1 when longer. Exact over every split of the pooled runs (ties counted as halves);
    with 5 runs against 5 the smallest p is 2/252 = 0.008, with 3 against 3 it is 0.1, so three
    runs a bench can never show a difference at 5%."""
    n, m, pooled = len(times), len(reference), times + reference

    def u_statistic(group, others):  # pairs in which the group's run is the shorter
        return sum(1.0 if a < b else 0.5 if a == b else 0.0 for a in group for b in others)

    observed = u_statistic(times, reference)
    mean_u = n * m / 2
    direction = -1 if observed > mean_u else 1 if observed < mean_u else 0
    if math.comb(n + m, n) > 20_000:  # more runs than a call takes (7 against 7 is 3,432 splits): normal
        ranks = sorted(pooled)  # approximation with the ties' correction and a continuity correction
        counts = [ranks.count(v) for v in set(ranks)]
        variance = n * m / 12 * ((n + m + 1) - sum(c ** 3 - c for c in counts) / ((n + m) * (n + m - 1)))
        if variance <= 0:
            return 1.0, 0
        z = max(abs(observed - mean_u) - 0.5, 0) / math.sqrt(variance)
        return min(1.0, math.erfc(z / math.sqrt(2))), direction
    indices = range(n + m)
    splits = list(itertools.combinations(indices, n))
    extreme = 0
    for chosen in splits:
        members = set(chosen)
        group = [pooled[i] for i in chosen]
        others = [pooled[i] for i in indices if i not in members]
        if abs(u_statistic(group, others) - mean_u) >= abs(observed - mean_u) - 1e-9:
            extreme += 1
    return extreme / len(splits), direction


def verdict(group, reference):
    """The rank test's verdict of a group of benches' runs against the reference group's."""
    times = [t for r in group for t in r.get("times", [])]
    others = [t for r in reference for t in r.get("times", [])]
    if len(times) < 2 or len(others) < 2:
        return ""
    p, direction = rank_test(times, others)
    if p < 0.05 and direction:
        return f"{'faster' if direction < 0 else 'slower'} (p {p:.3f})"
    return f"no difference shown (p {p:.2f})"


def main(arguments):
    if not arguments or arguments[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1])
        return 2 if not arguments else 0
    files = []
    for argument in arguments:
        if os.path.isdir(argument):
            for root, _, names in sorted(os.walk(argument)):
                files += [os.path.join(root, n) for n in sorted(names)
                          if n.endswith((".txt", ".log", ".json")) and not n.startswith("ncu")]
        elif os.path.exists(argument):
            files.append(argument)
        else:
            print(f"device-summary.py: {argument}: no such file or folder", file=sys.stderr)
            return 1
    records, hf = [], {}
    for path in files:
        try:
            if path.endswith(".json"):
                read_hf(path, hf)
            else:
                read_log(path, records)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"device-summary.py: {path}: {error}", file=sys.stderr)
            return 1
    # A bench printed once into a log and once into bench.txt (device-check.sh tees both) counts once.
    unique, seen = [], set()
    for r in records:
        if "tokens" not in r:
            continue
        key = (r["size"], r["precision"], r["label"], r["tokens"], tuple(sorted(r["settings"].items())), r["baseline"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    sizes = sorted({r["size"] for r in unique} | set(hf), key=lambda s: SIZE_ORDER.index(s) if s in SIZE_ORDER else 99)

    print("## Throughput (tokens/s; ÷ default: the same binary's default kernels, same size and precision)\n")
    print("| size | precision | binary | settings | tokens/s | ÷ default | runs against the default's | ÷ target | "
          "SM clock, power |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        timed = [r for r in unique if r["size"] == size]
        for precision in ("fp16", "bf16"):
            rows = [r for r in timed if r["precision"] == precision]
            if not rows:
                continue
            groups = {}
            for r in rows:
                groups.setdefault((r["baseline"],) + describe(r["settings"], r), []).append(r)

            def tokens_of(key):
                return median([r["tokens"] for r in groups.get(key, [])])

            order = sorted(groups, key=lambda g: (g[0], g[2], g[1] != "default", -tokens_of(g)))
            for key in order:
                baseline, variant, conditions = key
                group, tokens = groups[key], tokens_of(key)
                default = tokens_of((False, "default", conditions))  # like with like
                shown = " / ".join(f"{r['tokens']:,}" for r in group)
                versus = f"{tokens / default:.3f}" if default else ""
                # The runs' rank test against the same default (BASE's default against the new one).
                compared = groups.get((False, "default", conditions), [])
                test = verdict(group, compared) if key != (False, "default", conditions) else ""
                target = f"{tokens / TARGETS[size]:.3f}" if size in TARGETS else ""
                clocks = "; ".join(f"{r['clock']} MHz, {r['power']:.0f} W" for r in group if "clock" in r)
                print(f"| {size} | {precision} | {'BASE' if baseline else 'new'} | {variant}{conditions} | {shown} | "
                      f"{versus} | {test} | {target} | {clocks} |")

    if hf:
        print("\n## HF baseline of the same call (forward + statistics)\n")
        print("| size | HF tokens/s | ÷ H100 table | counts as the H100 table (±10%) | memprof default fp16 ÷ HF | "
              "the target's ratio to the table |")
        print("|---|---|---|---|---|---|")
        for size in sizes:
            if size not in hf:
                continue
            value = median(hf[size])
            table = HF_TABLE.get(size)
            ratio = value / table if table else None
            counts = "yes" if ratio and abs(ratio - 1) <= 0.10 else "no" if ratio else ""
            # The default kernels' fp16 runs, unprofiled where there are such.
            runs = [r for r in unique if r["size"] == size and r["precision"] == "fp16" and not r["baseline"]
                    and describe(r["settings"], r)[0] == "default"]
            plain = [r["tokens"] for r in runs if "MEMPROF_CUDA_PROFILE" not in r["settings"]]
            ours = median(plain or [r["tokens"] for r in runs])
            standing = f"{ours / value:.2f}×" if ours else ""
            needed = f"{TARGETS[size] / table:.2f}×" if size in TARGETS and table else ""
            print(f"| {size} | {value:,.0f} | {ratio:.3f} | {counts} | {standing} | {needed} |" if ratio else
                  f"| {size} | {value:,.0f} | | | {standing} | |")

    profiled = [r for r in unique if r["profile"]]
    for size in sizes:
        runs = [r for r in profiled if r["size"] == size]
        if not runs:
            continue
        print(f"\n## Step profile, {size} (GPU ms per profiled run; % of its total)\n")
        names = []
        for r in runs:
            names += [n for n in r["profile"] if n not in names]
        titles = [("BASE " if r["baseline"] else "") + "".join(describe(r["settings"], r)) + f", {r['precision']}"
                  for r in runs]
        print("| step | " + " | ".join(titles) + " |")
        print("|---|" + "---|" * len(runs))
        for name in names:
            cells = []
            for r in runs:
                ms, total = r["profile"].get(name), sum(r["profile"].values())
                cells.append(f"{ms:.2f} ({100 * ms / total:.1f}%)" if ms is not None else "")
            print(f"| {name} | " + " | ".join(cells) + " |")
        print("| total | " + " | ".join(f"{sum(r['profile'].values()):.2f}" for r in runs) + " |")
        for r in runs:
            if r.get("profile_header"):
                print(f"\n- {'BASE ' if r['baseline'] else ''}{''.join(describe(r['settings'], r))}: {r['profile_header']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
