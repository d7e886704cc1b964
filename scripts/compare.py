#!/usr/bin/env python3
"""Compares two benchmark result folders (before/after, or machine A/B) benchmark by benchmark.

Prints time(B) / time(A) for every benchmark present in both, sorted by ratio, and flags a
change as significant when |ratio - 1| exceeds the noise: 3x the combined relative standard
deviation of the repetitions (sqrt(sA^2 + sB^2), from --benchmark_repetitions aggregates or
the raw repetitions) when both sides have them, else a default of 10% (the drift between runs
of one binary on a shared 2-core VM, DESIGN.md section 4). Only the standard library is used.
Usage: compare.py A B [--threshold=0.10] [--filter=REGEX] [--all]
"""
import json
import math
import os
import re
import sys
from collections import defaultdict

TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def load(path):
    """{run_name: (seconds, relative stddev or None, error or None)}"""
    if os.path.isdir(path):
        path = os.path.join(path, "results.json")
    with open(path) as f:
        data = json.load(f)
    groups = defaultdict(list)
    for rec in data.get("benchmarks", []):
        groups[rec.get("run_name", rec["name"])].append(rec)
    out = {}
    for name, recs in groups.items():
        its = [r for r in recs if r.get("run_type", "iteration") == "iteration"]
        aggs = {r.get("aggregate_name"): r for r in recs if r.get("run_type") == "aggregate"}
        base = aggs.get("median") or aggs.get("mean") or (its[0] if its else recs[0])
        err = base.get("error_message") if base.get("error_occurred") else None
        sec = base.get("real_time", 0) * TO_SECONDS[base.get("time_unit", "ns")]
        rel = None
        if "stddev" in aggs and "mean" in aggs and aggs["mean"].get("real_time"):
            rel = aggs["stddev"]["real_time"] / aggs["mean"]["real_time"]
        elif len(its) > 1 and all(r.get("real_time", 0) > 0 for r in its):
            t = [r["real_time"] for r in its]
            m = sum(t) / len(t)
            rel = math.sqrt(sum((x - m) ** 2 for x in t) / (len(t) - 1)) / m
        out[name] = (sec, rel, err)
    return out


def fmt_time(s):
    for unit, f in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= f:
            return "%.3g %s" % (s / f, unit)
    return "%.3g ns" % (s / 1e-9)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in argv[1:]
                if a.startswith("--"))
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    default = float(opts.get("threshold", 0.10))
    filt = re.compile(opts["filter"]) if "filter" in opts else None
    a, b = load(args[0]), load(args[1])
    common = [n for n in a if n in b and (filt is None or filt.search(n))]
    only_a = [n for n in a if n not in b]
    only_b = [n for n in b if n not in a]
    rows = []
    for n in common:
        (ta, sa, ea), (tb, sb, eb) = a[n], b[n]
        if ea or eb or ta <= 0 or tb <= 0:
            rows.append((n, None, None, "error in %s" % ("A" if ea else "B"), ta, tb))
            continue
        r = tb / ta
        if sa is not None and sb is not None:
            noise, how = 3 * math.sqrt(sa * sa + sb * sb), "3 sd"
        else:
            noise, how = default, "default"
        flag = ""
        if abs(r - 1) > noise:
            flag = "SLOWER" if r > 1 else "FASTER"
        rows.append((n, r, noise, flag + ("" if not flag else " (> %s %.1f%%)" % (how, 100 * noise)),
                     ta, tb))
    rows.sort(key=lambda x: (x[1] is None, -(x[1] or 0)))
    show_all = "all" in opts
    print("time(B)/time(A); A=%s B=%s; noise = 3x combined repetition stddev, else %.0f%%" % (
        args[0], args[1], 100 * default))
    print("%-9s %-10s %-10s  %s" % ("B/A", "A", "B", "benchmark"))
    flagged = errors = 0
    for n, r, noise, flag, ta, tb in rows:
        if r is None:
            errors += 1
        elif flag:
            flagged += 1
        if not show_all and not flag:
            continue
        print("%-9s %-10s %-10s  %s  %s" % ("-" if r is None else "%.3f" % r, fmt_time(ta),
                                             fmt_time(tb), n, flag))
    ratios = [r for _, r, _, _, _, _ in rows if r]
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print("\n%d common benchmarks, %d flagged, %d with errors; geometric mean B/A %.3f; %d only "
              "in A, %d only in B%s" % (len(rows), flagged, errors, geo, len(only_a), len(only_b),
                          "" if show_all else " (--all lists every benchmark)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
