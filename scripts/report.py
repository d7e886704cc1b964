#!/usr/bin/env python3
"""Turns one benchmark result folder into report.md and PNG plots, and prints a summary.

Reads FOLDER/results.json (Google Benchmark JSON from numgrad_bench, whose context holds the
measured ceilings and every kernel's traits) and FOLDER/machine.txt (written by bench.sh).
Usage: report.py FOLDER   (needs numpy and matplotlib: Debian's /usr/bin/python3 has them)
"""
import json
import math
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAME_RE = re.compile(
    r"^(?P<family>[a-z_]+)/(?P<id>[^/]+)/N:(?P<n>\d+)/b:(?P<b>\d+)/d:(?P<d>\d+)"
    r"/threads:(?P<t>\d+)")
CEIL_RE = re.compile(r"^ceiling/(?P<id>[^/]+)/(?:bytes:(?P<bytes>\d+)/)?"
                     r"(?:N:(?P<n>\d+)/d:(?P<d>\d+)/)?threads:(?P<t>\d+)")
TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


class Row:
    """One benchmark: a registry kernel, a peer (Eigen/OpenBLAS) or a ceiling."""

    def __init__(self, rec, kernels):
        self.name = rec["run_name"] if "run_name" in rec else rec["name"]
        self.error = rec.get("error_message") if rec.get("error_occurred") else None
        self.seconds = rec.get("real_time", 0) * TO_SECONDS[rec.get("time_unit", "ns")]
        self.cpu_seconds = rec.get("cpu_time", 0) * TO_SECONDS[rec.get("time_unit", "ns")]
        self.stddev = None
        self.rows_s = rec.get("rows/s")
        self.bytes_s = rec.get("bytes/s")
        self.flop_s = rec.get("flop/s")
        self.frac_bw = rec.get("frac_bw")
        self.frac_peak = rec.get("frac_peak")
        m = NAME_RE.match(self.name)
        c = CEIL_RE.match(self.name)
        self.kind = "kernel"
        if m:
            self.family, self.id = m["family"], m["id"]
            self.n, self.b, self.d, self.threads = int(m["n"]), int(m["b"]), int(m["d"]), int(m["t"])
        elif c:
            self.kind, self.family, self.id = "ceiling", "ceiling", c["id"]
            self.n = self.b = int(c["n"] or 0)
            self.d = int(c["d"] or 0)
            self.threads = int(c["t"])
        else:
            raise ValueError("unrecognized benchmark name: " + self.name)
        parts = self.id.split(".")
        self.types = parts[-1]
        self.elem = "f64" if self.types == "f64" else "f32"
        if self.family == "peer":
            # peer/<lib>.<op>.<type>: loss peers compare with loss, the others with grad.
            self.kind = "peer"
            self.lib, self.op = parts[0], parts[1]
            self.algorithm = self.op
            self.cmp_family = "loss" if self.op == "loss" else "grad"
            self.prefix = parts[0]
            self.axis, self.isa = "serial", "?"
        elif self.kind == "kernel":
            self.algorithm = parts[-2]
            self.prefix = ".".join(parts[:-2])
            self.cmp_family = self.family
            traits = kernels.get(self.id, {})
            self.axis = traits.get("axis", "serial")
            self.isa = traits.get("isa", "?")
        if self.kind != "ceiling" and self.family in ("loss", "loss_cold"):
            self.algorithm = "loss"

    def shape(self):
        return (self.n, self.b, self.d)

    def gflops(self):
        return self.flop_s / 1e9 if self.flop_s else None

    def label(self):
        return self.id if self.kind != "kernel" else self.id


def load(folder):
    with open(os.path.join(folder, "results.json")) as f:
        data = json.load(f)
    ctx = data.get("context", {})
    kernels = {}
    for k, v in ctx.items():
        if k.startswith("kernel."):
            kernels[k[len("kernel."):]] = dict(kv.split("=", 1) for kv in v.split())
    groups = defaultdict(list)
    for rec in data.get("benchmarks", []):
        groups[rec.get("run_name", rec["name"])].append(rec)
    rows = []
    for name, recs in groups.items():
        its = [r for r in recs if r.get("run_type", "iteration") == "iteration"]
        aggs = {r.get("aggregate_name"): r for r in recs if r.get("run_type") == "aggregate"}
        base = aggs.get("median") or aggs.get("mean") or (its[0] if its else recs[0])
        try:
            row = Row(base, kernels)
        except ValueError as e:
            print("report.py: " + str(e), file=sys.stderr)
            continue
        if "stddev" in aggs and "mean" in aggs and aggs["mean"].get("real_time"):
            row.stddev = aggs["stddev"]["real_time"] / aggs["mean"]["real_time"]
        elif len(its) > 1 and all(r.get("real_time", 0) > 0 for r in its):
            times = [r["real_time"] for r in its]
            mean = sum(times) / len(times)
            row.stddev = math.sqrt(sum((t - mean) ** 2 for t in times) / (len(times) - 1)) / mean
        rows.append(row)
    machine = {}
    path = os.path.join(folder, "machine.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    machine[k.strip()] = v.strip()
    return ctx, machine, rows


# --- Comparisons ---------------------------------------------------------------------------

def is_simd(r):
    return r.kind == "kernel" and ".simd" in "." + r.prefix


def scalar_of(r, index):
    """The scalar kernel of the same family, algorithm, types and shape (threads 1)."""
    if r.kind != "kernel":
        return None
    alg = "residual" if r.algorithm == "loss" else r.algorithm
    return index.get((r.family, "scalar.%s.%s" % (alg, r.types), r.shape(), 1))


# Which peers a row is compared with: the loss with the loss peers; blackbox with the Eigen
# blackbox; residual and analytic gradients with the OpenBLAS analytic gradient (what a user
# would otherwise compute).
PEER_OPS = {"loss": ("loss",), "blackbox": ("blackbox",), "residual": ("analytic",),
            "analytic": ("analytic",)}


def best_peer(r, peers):
    if r.kind != "kernel" or r.family not in ("loss", "grad"):
        return None
    ops = PEER_OPS.get(r.algorithm, ())
    cands = [p for p in peers.get((r.elem, r.b, r.d), []) if p.op in ops and not p.error and
             p.threads in (1, r.threads)]
    return min(cands, key=lambda p: p.seconds) if cands else None


def fmt_time(s):
    if s is None or s <= 0:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= f:
            return "%.3g %s" % (s / f, unit)
    return "%.3g ns" % (s / 1e-9)


def fmt(v, scale=1.0, digits=3):
    if v is None:
        return "-"
    return ("%." + str(digits) + "g") % (v / scale)


def pct(v):
    return "-" if v is None else "%.1f%%" % (100 * v)


def ratio(a, b):
    """a / b, or None."""
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def fmt_ratio(v):
    return "-" if v is None else "%.2fx" % v


# --- Report --------------------------------------------------------------------------------

def header(ctx, machine, contention="?"):
    lines = ["# numgrad benchmark report", ""]
    get = lambda k, d="?": ctx.get(k, machine.get(k, d))  # noqa: E731
    caches = get("numgrad.cache_bytes")
    items = [
        ("Date", ctx.get("date", machine.get("date", "?"))),
        ("Host", machine.get("host", ctx.get("host_name", "?"))),
        ("CPU", get("numgrad.cpu_model", machine.get("cpu_model", "?"))),
        ("ISAs (cpuinfo)", get("numgrad.cpu_isas")),
        ("Best compiled ISA / ceiling kernels", "%s / %s" % (get("numgrad.best_isa"),
                                                            get("numgrad.ceiling_isa"))),
        ("Hardware threads", get("numgrad.hardware_threads")),
        ("Caches (bytes, per instance)", caches),
        ("Memory", machine.get("memory", get("numgrad.memory_bytes"))),
        ("Kernel", machine.get("kernel", "?")),
        ("Compiler", get("numgrad.compiler")),
        ("Flags", machine.get("cxx_flags", "?")),
        ("Eigen", get("numgrad.eigen")),
        ("OpenBLAS", get("numgrad.openblas")),
        ("oneTBB", get("numgrad.tbb")),
        ("xsimd", get("numgrad.xsimd")),
        ("Google Benchmark", machine.get("pkg_libbenchmark-dev", "?")),
        ("Preset", get("numgrad.preset")),
        ("Load average at start", ", ".join("%.2f" % x for x in ctx.get("load_avg", []))),
        ("Contention (median CPU/real time of serial kernels; 1.0 = quiet)", contention),
        ("git", machine.get("git", "?")),
    ]
    lines += ["| | |", "|---|---|"] + ["| %s | %s |" % (k, str(v).replace("|", "\\|"))
                                         for k, v in items] + [""]
    return lines


COUNTERS_DOC = """Counters (per call; an epoch is ceil(N/b) calls, i.e. N rows):
rows/s = b / time; bytes/s = b (d+1) sizeof(T) / time (X and y read once: the least any pass
must read); GFLOP/s from loss 2bd, residual gradient 10bd, blackbox 4bd^2, analytic 4bd;
%bw = bytes/s / read-bandwidth ceiling of the level the working set lives in (per-thread share
vs L1/L2, total vs LLC, cold = DRAM) at the same thread count; %peak = flop/s / FMA peak of the
accumulator type at the same thread count. x scalar = scalar time / time (same family,
algorithm, types and shape; scalar runs on 1 thread); x peer = best peer time / time (loss vs
Eigen and OpenBLAS loss; residual and analytic vs OpenBLAS analytic gradient; blackbox vs the
Eigen blackbox). Times are wall-clock (real time)."""


def table(rows, index, peers, title):
    out = ["### " + title, "",
           "| benchmark | threads | time | rows/s | GB/s | GFLOP/s | x scalar | x peer | %bw | %peak |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r.error is not None, r.seconds)):
        if r.error:
            out.append("| %s | %d | ERROR: %s | | | | | | | |" % (r.id, r.threads,
                                                               r.error.replace("|", "/")))
            continue
        sc = scalar_of(r, index)
        bp = best_peer(r, peers)
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.id, r.threads, fmt_time(r.seconds), fmt(r.rows_s, 1e6, 3) + "M",
            fmt(r.bytes_s, 1e9), fmt(r.gflops()),
            fmt_ratio(ratio(sc.seconds, r.seconds)) if sc and not sc.error else "-",
            fmt_ratio(ratio(bp.seconds, r.seconds)) if bp else "-",
            pct(r.frac_bw), pct(r.frac_peak)))
    return out + [""]


def build(ctx, machine, rows, folder):
    index = {(r.family, r.id, r.shape(), r.threads): r for r in rows if r.kind == "kernel"}
    peers = defaultdict(list)
    for r in rows:
        if r.kind == "peer":
            peers[(r.elem, r.b, r.d)].append(r)
    ok = [r for r in rows if not r.error]
    errors = [r for r in rows if r.error]

    fr = sorted(r.cpu_seconds / r.seconds for r in ok
                if r.kind == "kernel" and r.axis == "serial" and r.seconds > 0)
    contention = "%.2f" % fr[len(fr) // 2] if fr else "?"
    md = header(ctx, machine, contention)
    summary, key = summaries(rows, index, peers)
    md += ["## Summary", "", "Best variant per family at the all-kernel shapes (f32 data):", ""]
    md += summary + [""]
    md += ["## Key ratios (same run)", ""] + ["- " + k for k in key] + [""]
    if errors:
        md += ["## Errors (%d benchmarks did not run)" % len(errors), "",
               "A benchmark whose kernel disagrees with the high-precision reference beyond "
               "the DESIGN.md section 3 bound is skipped, never timed. By kernel family:", ""]
        by = defaultdict(int)
        for r in errors:
            by[r.id.rsplit(".", 2)[0] + "." + r.types if r.kind == "kernel" else r.id] += 1
        md += ["| family.types | failed benchmarks |", "|---|---:|"]
        md += ["| %s | %d |" % (k, v) for k, v in sorted(by.items())] + [""]
        md += ["First message: `%s`: %s" % (errors[0].name, errors[0].error), ""]

    md += ["## Ceilings (measured in the same process before the kernels)", "",
           "| ceiling | threads | value |", "|---|---:|---:|"]
    for k in sorted(ctx):
        if k.startswith("ceiling."):
            name, t = k[len("ceiling."):].rsplit(".threads:", 1)
            v = float(ctx[k])
            md.append("| %s | %s | %s |" % (name, t, ("%.1f GB/s" % (v / 1e9)) if "read_bw" in name
                                            else ("%.1f GFLOP/s" % (v / 1e9))))
    md += [""]
    plots = make_plots(ok, index, peers, ctx, folder)
    md += ["## Plots", ""] + ["![%s](%s)" % (p, p) for p in plots] + [""]
    md += ["## Every variant and peer", "", COUNTERS_DOC, ""]
    groups = defaultdict(list)
    for r in rows:
        if r.kind == "ceiling":
            continue
        fam = r.cmp_family
        groups[(fam, r.n if fam in ("loss_cold", "grad_cold", "epoch") else r.b, r.b, r.d)].append(r)
    order = {"loss": 0, "grad": 1, "loss_cold": 2, "grad_cold": 3, "epoch": 4}
    for key_ in sorted(groups, key=lambda k: (order.get(k[0], 9), k[3], k[2], k[1])):
        fam, n, b, d = key_
        md += table(groups[key_], index, peers, "%s, N=%d b=%d d=%d" % (fam, n, b, d))
    cei = [r for r in rows if r.kind == "ceiling"]
    if cei:
        md += ["### ceiling benchmarks (Google Benchmark runs of the same kernels)", "",
               "| benchmark | threads | time | GB/s | GFLOP/s |", "|---|---:|---:|---:|---:|"]
        for r in cei:
            md.append("| %s | %d | %s | %s | %s |" % (r.id, r.threads, fmt_time(r.seconds),
                                                    fmt(r.bytes_s, 1e9), fmt(r.gflops())))
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return summary, key


def summaries(rows, index, peers):
    ok = [r for r in rows if not r.error and r.kind == "kernel" and r.elem == "f32"
          and r.types == "f32"]
    lines = ["| family | shape | best variant | threads | time | x scalar | x best peer | %bw | %peak |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for fam, alg, shape in (("loss", "loss", (512, 512, 64)), ("loss", "loss", (4096, 4096, 8)),
                            ("grad", "residual", (512, 512, 64)),
                            ("grad", "blackbox", (512, 512, 64)),
                            ("grad", "analytic", (512, 512, 64)),
                            ("loss_cold", "loss", None), ("grad_cold", "residual", None),
                            ("epoch", "residual", None)):
        cands = [r for r in ok if r.family == fam and r.algorithm == alg and
                 (shape is None or r.shape() == shape)]
        if fam == "epoch" and cands:
            # the batch size where the best variant's epoch is fastest
            best = min(cands, key=lambda r: r.seconds)
            cands = [best]
        elif shape is None and cands:
            s = max({r.shape() for r in cands}, key=lambda s: sum(1 for r in cands if r.shape() == s))
            cands = [r for r in cands if r.shape() == s]
        if not cands:
            continue
        best = min(cands, key=lambda r: r.seconds)
        sc = scalar_of(best, index)
        bp = best_peer(best, peers)
        lines.append("| %s %s | N=%d b=%d d=%d | %s | %d | %s | %s | %s | %s | %s |" % (
            fam, alg if alg != "loss" else "", best.n, best.b, best.d, best.id, best.threads,
            fmt_time(best.seconds),
            fmt_ratio(ratio(sc.seconds, best.seconds)) if sc and not sc.error else "-",
            ("%s (%s)" % (fmt_ratio(ratio(bp.seconds, best.seconds)), bp.id)) if bp else "-",
            pct(best.frac_bw), pct(best.frac_peak)))
    return lines, key_ratios(rows, index, peers)


def key_ratios(rows, index, peers):
    ok = [r for r in rows if not r.error and r.kind != "ceiling"]
    out = []

    def best(cands):
        cands = [r for r in cands if not r.error]
        return min(cands, key=lambda r: r.seconds) if cands else None

    # 1. best serial SIMD loss vs Eigen over d (hot 1 MiB f32 batches: b = 2^18 / d), and
    #    the most any kernel could show: Eigen against the L2 read ceiling of the same run
    l2 = [r for r in rows if r.kind == "ceiling" and r.id == "read_bw.l2" and r.threads == 1
          and not r.error and r.bytes_s]
    parts = []
    for d in (4, 8, 16, 64, 256):
        simd = best([r for r in ok if r.family == "loss" and r.types == "f32" and is_simd(r)
                     and r.axis == "serial" and r.b * d == 1 << 18 and r.d == d])
        eig = best([r for r in ok if r.kind == "peer" and r.id == "eigen.loss.f32" and
                    r.b * d == 1 << 18 and r.d == d])
        if simd and eig:
            cap = " (L2 ceiling: <= %.2fx)" % (l2[0].bytes_s / eig.bytes_s) \
                if l2 and eig.bytes_s else ""
            parts.append("d=%d %.2fx %s%s" % (d, eig.seconds / simd.seconds, simd.prefix, cap))
    if parts:
        out.append("Best serial SIMD f32 loss vs Eigen (1 MiB batches, b = 2^18/d, Eigen time / "
                   "SIMD time; the cap is the L2 read ceiling / Eigen's bandwidth, what a "
                   "kernel reading at the ceiling would show): " +
                   ", ".join(parts))
    # 2. 1 GiB f32 loss vs the read bandwidth ceiling
    big = [r for r in ok if r.family in ("loss", "peer") and r.algorithm == "loss" and
           r.n == r.b and r.d == 64 and r.types == "f32" and r.n * 65 * 4 >= (1 << 30)]
    for t in sorted({r.threads for r in big}):
        bt = best([r for r in big if r.threads == t and r.kind == "kernel"])
        pe = best([r for r in big if r.threads == t and r.kind == "peer"])
        # The same sum over this very dataset: DRAM bandwidth differs between buffers on a VM.
        same = [r for r in rows if r.kind == "ceiling" and r.id == "read_bw.dataset" and
                bt and r.n == bt.n and r.threads == t and not r.error and r.bytes_s]
        if bt:
            out.append("1 GiB f32 loss (N=b=%d, d=64), %d thread(s): best %s %.1f GB/s = %s of "
                       "the DRAM read ceiling%s%s" % (
                           bt.n, t, bt.id, bt.bytes_s / 1e9, pct(bt.frac_bw),
                           " and %.0f%% of the same sum over this dataset (%.1f GB/s)" % (
                               100 * bt.bytes_s / same[0].bytes_s, same[0].bytes_s / 1e9)
                           if same else "",
                           "; best peer %s %.1f GB/s = %s" % (pe.id, pe.bytes_s / 1e9,
                                                             pct(pe.frac_bw)) if pe else ""))
    # 3. blackbox AVX-512 vs scalar
    for types in ("f32", "f64"):
        sc = index.get(("grad", "scalar.blackbox." + types, (512, 512, 64), 1))
        bb = best([r for r in ok if r.family == "grad" and r.algorithm == "blackbox" and
                   r.types == types and r.isa == "avx512" and r.axis == "serial" and
                   r.shape() == (512, 512, 64)])
        if sc and bb and not sc.error:
            out.append("Blackbox %s b=512 d=64: %s is %.1fx scalar (%s vs %s)" % (
                types, bb.id, sc.seconds / bb.seconds, fmt_time(bb.seconds), fmt_time(sc.seconds)))
    # 4. residual gradient / loss time at the same shape
    for prefix_pred, what in ((lambda p: p == "scalar", "scalar"),
                              (lambda p: p.startswith("simd.") and p != "simd.auto", "best SIMD")):
        pairs = []
        for r in ok:
            if (r.family == "grad" and r.algorithm == "residual" and r.types == "f32" and
                    r.shape() == (512, 512, 64) and r.threads == 1 and prefix_pred(r.prefix)):
                lo = index.get(("loss", r.id, (512, 512, 64), 1))
                if lo and not lo.error:
                    pairs.append((r.seconds, r, lo))
        if pairs:
            _, g, lo = min(pairs, key=lambda x: x[0])
            out.append("Residual gradient / loss time (%s, f32, b=512 d=64): %s: %.1fx "
                       "(d=64, so 2d=128 perturbed losses cost %.1f loss passes)" % (
                           what, g.prefix, g.seconds / lo.seconds, g.seconds / lo.seconds))
    # 5. threads: t=max vs t=1 for the parallel kernels of the thread-scaling shapes
    tmax = max([r.threads for r in ok] or [1])
    if tmax > 1:
        for fam, shape in (("loss", (65536, 65536, 64)), ("grad", (4096, 4096, 64))):
            parts = []
            for r in ok:
                if r.family == fam and r.shape() == shape and r.threads == tmax and \
                        r.axis != "serial" and r.types == "f32":
                    one = index.get((fam, r.id, shape, 1))
                    if one and not one.error:
                        parts.append("%s %.2fx" % (r.prefix, one.seconds / r.seconds))
            pe = [r for r in ok if r.kind == "peer" and r.family == "peer" and r.shape() == shape
                  and r.lib == "openblas" and r.types == "f32"]
            p1 = [p for p in pe if p.threads == 1]
            pm = [p for p in pe if p.threads == tmax]
            if p1 and pm:
                parts.append("openblas %.2fx" % (p1[0].seconds / pm[0].seconds))
            if parts:
                out.append("%d threads vs 1, %s N=%d b=%d d=%d (%s): %s" % (
                    tmax, fam, shape[0], shape[1], shape[2], "residual" if fam == "grad" else "loss",
                    ", ".join(sorted(parts))))
        # 6. issue 4's measure: a parallel gradient at tmax threads against its serial inner
        #    kernel (the id without "tbb.<axis>.") at one thread, for b*d >= 2^20
        lines = {}
        for r in ok:
            if r.family != "grad" or r.threads != tmax or r.axis == "serial" or \
                    r.b * r.d < (1 << 20) or not r.id.startswith("tbb."):
                continue
            inner = r.id.split(".", 2)[2]
            one = index.get(("grad", inner, r.shape(), 1))
            if one and not one.error:
                key = (r.algorithm, r.shape())
                lines.setdefault(key, []).append("%s %.2fx" % (r.id, one.seconds / r.seconds))
                # ceiling/split.<inner>: the inner kernel on 1/t of the rows per thread, at once
                split = [c for c in rows if c.kind == "ceiling" and c.id == "split." + inner and
                         c.n == r.b and c.d == r.d and c.threads == tmax and not c.error]
                if split:
                    lines[key].append("split limit of %s %.2fx" % (
                        inner, one.seconds / split[0].seconds))
        for (alg, shape), parts in sorted(lines.items()):
            out.append("%d threads vs the serial inner kernel, %s b=%d d=%d: %s" % (
                tmax, alg, shape[1], shape[2], ", ".join(sorted(set(parts)))))
    return out


# --- Plots ---------------------------------------------------------------------------------

def series_style(i):
    # tab20 colours and 11 markers: 20+ series stay distinguishable.
    markers = "os^vD<>pXh*"
    return dict(marker=markers[i % len(markers)], color=plt.get_cmap("tab20")(i % 20),
                linewidth=1.3, markersize=4)


def make_plots(ok, index, peers, ctx, folder):
    plots = []
    plt.rcParams.update({"font.size": 9, "figure.dpi": 110})

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(folder, name))
        plt.close(fig)
        plots.append(name)

    kern = [r for r in ok if r.kind == "kernel"]
    peer = [r for r in ok if r.kind == "peer"]

    # 1. throughput against batch size: loss (d=64, GB/s) and residual gradient (d=16, rows/s)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, fam, alg, d, metric, ylabel in (
            (axes[0], "loss", "loss", 64, "bytes_s", "loss: GB/s (X and y read once)"),
            (axes[1], "grad", "residual", 16, "rows_s", "gradient: million rows/s")):
        series = defaultdict(list)
        for r in kern + peer:
            if r.types != "f32" or r.d != d or r.n != r.b:
                continue
            if r.kind == "kernel" and (r.family != fam or r.algorithm != alg):
                continue
            if r.kind == "peer" and (r.cmp_family != fam or r.threads != 1 or
                                     (fam == "grad" and r.op != "analytic")):
                continue
            series[(r.id, r.threads)].append(r)
        series = {k: v for k, v in series.items() if len(v) >= 4}
        for i, ((sid, t), rs) in enumerate(sorted(series.items())):
            rs.sort(key=lambda r: r.b)
            scale = 1e9 if metric == "bytes_s" else 1e6
            ax.plot([r.b for r in rs], [getattr(r, metric) / scale for r in rs],
                    label="%s t%d" % (sid, t), linestyle="--" if sid.startswith(("eigen", "openblas")) else "-",
                    **series_style(i))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size b (rows)")
        ax.set_ylabel(ylabel)
        ax.set_title("%s against batch size, f32, d=%d (hot cache)" % (alg, d))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6.5, ncol=1)
    save(fig, "throughput_vs_batch.png")

    # 2. loss throughput against d (hot 1 MiB batches): where generic libraries lose
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    series = defaultdict(list)
    for r in kern + peer:
        if r.types == "f32" and r.b * r.d == 1 << 18 and r.n == r.b and r.algorithm == "loss" and \
                r.family in ("loss", "peer"):
            series[(r.id, r.threads)].append(r)
    for i, ((sid, t), rs) in enumerate(sorted((k, v) for k, v in series.items() if len(v) >= 3)):
        rs.sort(key=lambda r: r.d)
        ax.plot([r.d for r in rs], [r.bytes_s / 1e9 for r in rs], label="%s t%d" % (sid, t),
                linestyle="--" if sid.startswith(("eigen", "openblas")) else "-",
                **series_style(i))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("features d")
    ax.set_ylabel("GB/s")
    ax.set_title("loss throughput against d, f32, 1 MiB batches (b = 2^18 / d)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5)
    save(fig, "loss_vs_d.png")

    # 3. speedup over scalar at the all-kernel shape, every family (f32), best thread count
    fig, axes = plt.subplots(1, 3, figsize=(14, 6.5))
    for ax, fam, alg in ((axes[0], "loss", "loss"), (axes[1], "grad", "residual"),
                         (axes[2], "grad", "blackbox")):
        best = {}
        for r in kern:
            if r.family == fam and r.algorithm == alg and r.shape() == (512, 512, 64) and \
                    r.types == "f32":
                if r.prefix not in best or r.seconds < best[r.prefix].seconds:
                    best[r.prefix] = r
        sc = index.get((fam, "scalar.%s.f32" % ("residual" if alg == "loss" else alg),
                        (512, 512, 64), 1))
        if not sc or not best:
            ax.set_visible(False)
            continue
        items = sorted(best.values(), key=lambda r: sc.seconds / r.seconds)
        ax.barh(["%s (t%d)" % (r.prefix, r.threads) for r in items],
                [sc.seconds / r.seconds for r in items],
                color=["tab:orange" if r.axis != "serial" else "tab:blue" for r in items])
        ax.axvline(1, color="k", linewidth=0.8)
        ax.set_xlabel("speedup over scalar (x); blue serial, orange parallel")
        ax.set_title("%s, f32, b=512 d=64" % alg)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
    save(fig, "speedup_over_scalar.png")

    # 4. thread scaling of the parallel kernels (and OpenBLAS), relative to 1 thread
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    tmax = max([r.threads for r in ok] or [1])
    for ax, fam, shape, alg in ((axes[0], "loss", (65536, 65536, 64), "loss"),
                                (axes[1], "grad", (4096, 4096, 64), "residual")):
        series = defaultdict(list)
        for r in kern + peer:
            if r.shape() != shape or r.types != "f32":
                continue
            if r.kind == "kernel" and (r.family != fam or r.algorithm != alg or r.axis == "serial"):
                continue
            if r.kind == "peer" and (r.lib != "openblas" or r.cmp_family != fam):
                continue
            series[r.id].append(r)
        i = 0
        for sid, rs in sorted(series.items()):
            rs.sort(key=lambda r: r.threads)
            if len(rs) < 2 or rs[0].threads != 1:
                continue
            ax.plot([r.threads for r in rs], [rs[0].seconds / r.seconds for r in rs], label=sid,
                    **series_style(i))
            i += 1
        ax.plot([1, tmax], [1, tmax], "k:", label="ideal")
        ax.set_xlabel("threads")
        ax.set_ylabel("speedup over the same kernel on 1 thread")
        ax.set_title("thread scaling: %s, f32, N=b=%d d=%d" % (alg, shape[1], shape[2]))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6.5)
    save(fig, "thread_scaling.png")

    # 5. roofline: GFLOP/s against arithmetic intensity (flops / bytes read once)
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    colors = {"loss": "tab:blue", "residual": "tab:green", "blackbox": "tab:red",
              "analytic": "tab:purple"}
    pts = [r for r in kern + peer if r.family in ("loss", "grad", "peer") and r.threads == 1 and
           r.flop_s and r.bytes_s and r.elem == "f32"]
    for alg, col in colors.items():
        sel = [r for r in pts if r.algorithm == alg]
        if sel:
            ax.scatter([r.flop_s / r.bytes_s for r in sel], [r.flop_s / 1e9 for r in sel], s=10,
                       color=col, alpha=0.6, label="%s (%d)" % (alg, len(sel)),
                       marker="x" if alg == "blackbox" else "o")
    sel = [r for r in pts if r.kind == "peer"]
    if sel:
        ax.scatter([r.flop_s / r.bytes_s for r in sel], [r.flop_s / 1e9 for r in sel], s=30,
                   facecolors="none", edgecolors="k", label="peers (circled)")
    ais = [r.flop_s / r.bytes_s for r in pts] or [0.1, 100]
    xs = [min(ais) / 2, max(ais) * 2]
    peak = float(ctx.get("ceiling.fma_peak.f32.threads:1", 0)) / 1e9
    peak64 = float(ctx.get("ceiling.fma_peak.f64.threads:1", 0)) / 1e9
    for lvl, style in (("l1", ":"), ("l2", "-."), ("dram", "--")):
        bw = float(ctx.get("ceiling.read_bw.%s.threads:1" % lvl, 0)) / 1e9
        if bw > 0:
            grid = [xs[0] * (xs[1] / xs[0]) ** (i / 50) for i in range(51)]
            ax.plot(grid, [min(bw * x, peak) if peak else bw * x for x in grid], "k" + style,
                    linewidth=1, label="%s read %.0f GB/s" % (lvl.upper(), bw))
    if peak:
        ax.axhline(peak, color="k", linewidth=1.2, label="f32 FMA peak %.0f GFLOP/s" % peak)
    if peak64:
        ax.axhline(peak64, color="gray", linewidth=1, label="f64 FMA peak %.0f GFLOP/s" % peak64)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte of X and y read once)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("roofline, 1 thread, f32 data (f32 and f32acc64)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    save(fig, "roofline.png")

    # 6. epoch: time per epoch against b
    ep = [r for r in kern if r.family == "epoch" and r.types == "f32"]
    if ep:
        fig, ax = plt.subplots(figsize=(8.5, 5))
        series = defaultdict(list)
        n0 = min(r.n for r in ep)
        for r in ep:
            if r.n == n0:
                series[(r.id, r.threads)].append(r)
        for i, ((sid, t), rs) in enumerate(sorted(series.items())):
            rs.sort(key=lambda r: r.b)
            ax.plot([r.b for r in rs], [r.seconds * 1e3 for r in rs], label="%s t%d" % (sid, t),
                    linestyle="--" if "analytic" in sid else "-", **series_style(i))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size b")
        ax.set_ylabel("ms per epoch")
        ax.set_title("one SGD epoch over N=%d rows (d=16): where small batches stop paying" % n0)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5)
        save(fig, "epoch_vs_batch.png")
    return plots


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder = sys.argv[1]
    ctx, machine, rows = load(folder)
    if not rows:
        print("report.py: no benchmarks in %s/results.json" % folder, file=sys.stderr)
        return 1
    summary, key = build(ctx, machine, rows, folder)
    print("\n".join(summary))
    print()
    print("\n".join("- " + k for k in key))
    nerr = sum(1 for r in rows if r.error)
    print("\n%d benchmarks, %d errors; report: %s" % (len(rows), nerr,
                                                      os.path.join(folder, "report.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
