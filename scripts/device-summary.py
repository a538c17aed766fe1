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

The issues' targets are H100 figures, counted only where the HF baseline of the same call is
within ±10% of the H100 table (../shared/docs/performance.md); on another card (the H200: its
memory is faster, its tensor cores the same) the table gives the standing as the same-card
ratio memprof ÷ HF next to the target's ratio to the table (6.1× at 70m … 1.18× at 12b).
"""
import json
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
    print("| size | precision | binary | settings | tokens/s | ÷ default | ÷ target | SM clock, power |")
    print("|---|---|---|---|---|---|---|---|")
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
                target = f"{tokens / TARGETS[size]:.3f}" if size in TARGETS else ""
                clocks = "; ".join(f"{r['clock']} MHz, {r['power']:.0f} W" for r in group if "clock" in r)
                print(f"| {size} | {precision} | {'BASE' if baseline else 'new'} | {variant}{conditions} | {shown} | "
                      f"{versus} | {target} | {clocks} |")

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
