#!/usr/bin/env python3
"""Compares two numgrad_bench runs benchmark by benchmark, and can gate a CI on the result.

For every benchmark in both runs: the ratio of median real times B/A (and of CPU times), each
run's spread, and a one-sided Mann-Whitney U test over the repetitions of whether B is slower.
A benchmark is a REGRESSION when B is slower by more than --threshold AND the test gives
p <= --alpha; FASTER likewise the other way (reported, never failing). Run both with
--benchmark_repetitions=N (N >= 3; with 3 per side only complete separation reaches p = 0.05,
with 5 it reaches 0.004) and without --benchmark_report_aggregates_only. Both runs' noise
verdicts (numgrad_bench's "disturbed" check) are printed. Standard library only.

Exit status: 0 no regression; 1 a regression, or a benchmark that errors in B but not in A;
2 bad usage or an unreadable result; 3 nothing could be tested (no common benchmark with
enough repetitions on both sides), or --require-quiet and a run was disturbed.
"""
import argparse
import math
import os
import re
import sys
from functools import lru_cache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numgrad_results  # noqa: E402


@lru_cache(maxsize=None)
def u_counts(n, m):
    """How many of the C(n+m, n) orderings give each U = 0..n*m (no ties)."""
    if n == 0 or m == 0:
        return (1,)
    a, b = u_counts(n - 1, m), u_counts(n, m - 1)
    out = [0] * (n * m + 1)
    for u, c in enumerate(a):  # the largest value is from the first sample: it beats all m
        out[u + m] += c
    for u, c in enumerate(b):
        out[u] += c
    return tuple(out)


def mann_whitney_greater(b, a):
    """One-sided p-value of H1: values in b tend to be larger than those in a.

    U counts the pairs (b_j, a_i) with b_j > a_i, ties as 1/2. Without ties the p-value is
    exact (the U distribution by recurrence); with ties, the normal approximation with tie
    correction and continuity correction is used.
    """
    n, m = len(b), len(a)
    u = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in b for y in a)
    if len(set(a) | set(b)) == n + m:
        counts = u_counts(n, m)
        total = sum(counts)
        return sum(counts[math.ceil(u):]) / total
    allv = sorted(a + b)
    ties = sum(allv.count(v) ** 3 - allv.count(v) for v in set(allv))
    var = n * m / 12.0 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if var <= 0:
        return 1.0
    z = (u - n * m / 2.0 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def fmt_time(s):
    for unit, f in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= f:
            return "%.3g %s" % (s / f, unit)
    return "%.3g ns" % (s / 1e-9)


def fmt_pct(v):
    return "-" if v is None else "%.1f%%" % (100 * v)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="compare.py", allow_abbrev=False, description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", metavar="A", help="baseline: a results folder or results.json")
    p.add_argument("b", metavar="B", help="candidate: a results folder or results.json")
    p.add_argument("--threshold", type=float, default=0.10,
                   help="smallest slowdown that counts, as a fraction (default 0.10 = 10%%)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="significance level of the one-sided test (default 0.05)")
    p.add_argument("--min-repetitions", type=int, default=3,
                   help="repetitions each side needs to be tested (default 3)")
    p.add_argument("--filter", type=re.compile, default=None, metavar="REGEX",
                   help="only benchmarks whose name matches")
    p.add_argument("--all", action="store_true", help="list every benchmark, not only changes")
    p.add_argument("--require-quiet", action="store_true",
                   help="exit 3 when either run was disturbed (numgrad_bench's noise check)")
    args = p.parse_args(argv)
    if not args.threshold >= 0 or not 0 < args.alpha < 1 or args.min_repetitions < 2:
        p.error("need --threshold >= 0, 0 < --alpha < 1 and --min-repetitions >= 2")
    return args


def judge(a, b, args):
    """(verdict, ratio, cpu ratio, p) of one benchmark present in both runs."""
    if b.error and not a.error:
        return "ERROR IN B", None, None, None
    if a.error or b.error:
        return "error in both" if a.error and b.error else "error in A", None, None, None
    ratio = b.seconds / a.seconds if a.seconds > 0 else None
    cpu = b.cpu_seconds / a.cpu_seconds if a.cpu_seconds > 0 else None
    if min(a.repetitions, b.repetitions) < args.min_repetitions or ratio is None:
        return "untested", ratio, cpu, None
    p_slower = mann_whitney_greater(b.times, a.times)
    p_faster = mann_whitney_greater(a.times, b.times)
    if ratio > 1 + args.threshold and p_slower <= args.alpha:
        return "REGRESSION", ratio, cpu, p_slower
    if ratio < 1 / (1 + args.threshold) and p_faster <= args.alpha:
        return "faster", ratio, cpu, p_faster
    return "same", ratio, cpu, min(p_slower, p_faster)


def main(argv):
    args = parse_args(argv)
    runs = []
    for path in (args.a, args.b):
        try:
            runs.append(numgrad_results.load(path))
        except (OSError, ValueError) as e:
            print("compare.py: cannot read %s: %s" % (path, e), file=sys.stderr)
            return 2
    (ctx_a, a), (ctx_b, b) = runs
    for tag, path, ctx in (("A", args.a, ctx_a), ("B", args.b, ctx_b)):
        status, reasons = numgrad_results.noise_status(ctx)
        print("%s: %s -- %s%s" % (tag, path, status, ": " + reasons if reasons else ""))
    names = [n for n in a if n in b and (args.filter is None or args.filter.search(n))]
    rows = [(n,) + judge(a[n], b[n], args) for n in names]
    order = {"ERROR IN B": 0, "REGRESSION": 1, "faster": 2, "untested": 3}
    rows.sort(key=lambda r: (order.get(r[1], 4), -(r[2] or 0)))
    print("\nB/A of median real time (CPU time beside it); p: one-sided Mann-Whitney U over the "
          "repetitions;\nspread: coefficient of variation; changes count beyond %.0f%% at p <= "
          "%.3g\n" % (100 * args.threshold, args.alpha))
    print("%-11s %7s %7s %8s %9s %9s  %s" % ("verdict", "B/A", "cpu B/A", "p", "spread A",
                                              "spread B", "benchmark"))
    for n, verdict, ratio, cpu, p in rows:
        if args.all or verdict in ("ERROR IN B", "REGRESSION", "faster"):
            print("%-11s %7s %7s %8s %9s %9s  %s" % (
                verdict, "-" if ratio is None else "%.3f" % ratio,
                "-" if cpu is None else "%.3f" % cpu, "-" if p is None else "%.3g" % p,
                fmt_pct(a[n].spread), fmt_pct(b[n].spread), n))
    count = lambda v: sum(1 for r in rows if r[1] == v)  # noqa: E731
    tested = len(rows) - count("untested") - count("error in A") - count("error in both")
    ratios = [r[2] for r in rows if r[2]]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else float("nan")
    print("\n%d common benchmarks (%d tested): %d regressions, %d errors in B, %d faster, %d "
          "untested (< %d repetitions); geometric mean B/A %.3f; %d only in A, %d only in B" % (
              len(rows), tested, count("REGRESSION"), count("ERROR IN B"), count("faster"),
              count("untested"), args.min_repetitions, geo,
              sum(1 for n in a if n not in b), sum(1 for n in b if n not in a)))
    if count("REGRESSION") or count("ERROR IN B"):
        return 1
    if tested == 0:
        print("compare.py: nothing could be tested; run both with --benchmark_repetitions=5",
              file=sys.stderr)
        return 3
    if args.require_quiet and any(numgrad_results.noise_status(c)[0] == "disturbed"
                                  for c in (ctx_a, ctx_b)):
        print("compare.py: a run was disturbed (--require-quiet)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
