#!/usr/bin/env python3
"""Turns one benchmark result folder into report.md and PNG plots, and prints a summary.

Reads FOLDER/results.json (Google Benchmark JSON from numgrad_bench: its context holds the
machine model, the noise verdict and every kernel's traits) and FOLDER/machine.txt (written by
bench.sh). Every file is written whole (temporary file, then rename).
Usage: report.py FOLDER   (needs numpy and matplotlib: Debian's /usr/bin/python3 has them)
"""
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numgrad_results  # noqa: E402
from numgrad_files import write_whole  # noqa: E402
from report_common import (best_peer, fmt, fmt_ratio, fmt_time, frac, load, pct,  # noqa: E402
                           ratio, scalar_of)
from report_plots import make_plots  # noqa: E402
from report_ratios import summaries  # noqa: E402

fmt_bytes = numgrad_results.format_bytes


def header(ctx, machine):
    get = lambda k, d="?": ctx.get(k, machine.get(k, d))  # noqa: E731
    items = [
        ("Date", ctx.get("date", machine.get("date", "?"))),
        ("Host", machine.get("host", ctx.get("host_name", "?"))),
        ("CPU", get("numgrad.cpu_model", machine.get("cpu_model", "?"))),
        ("ISAs (cpuinfo)", get("numgrad.cpu_isas")),
        ("Best compiled ISA / ceiling kernels", "%s / %s" % (get("numgrad.best_isa"),
                                                            get("numgrad.ceiling_isa"))),
        ("Hardware threads", get("numgrad.hardware_threads")),
        ("Memory", machine.get("memory", get("numgrad.memory_bytes"))),
        ("Kernel", machine.get("kernel", "?")),
        ("Compiler", get("numgrad.compiler")),
        ("Flags", machine.get("cxx_flags", "?")),
        ("Eigen / OpenBLAS / oneTBB / xsimd", " / ".join(
            get(k) for k in ("numgrad.eigen", "numgrad.openblas", "numgrad.tbb", "numgrad.xsimd"))),
        ("Google Benchmark", machine.get("pkg_libbenchmark-dev", "?")),
        ("Preset", get("numgrad.preset")),
        ("Machine model", "%s (measured %s in %s s; %s)" % (
            ctx.get("model.status", "?"), ctx.get("model.created", "?"),
            ctx.get("model.calibration_seconds", "?"), ctx.get("model.path", "?"))),
        # Results from before numgrad_bench recorded its version carry only bench.sh's git.
        ("numgrad", "%s (%s)" % (ctx.get("numgrad.version", "?"),
                                 ctx.get("numgrad.git", machine.get("git", "?")))),
    ]
    return ["| | |", "|---|---|"] + ["| %s | %s |" % (k, str(v).replace("|", "\\|"))
                                     for k, v in items] + [""]


def banner(ctx):
    status, reasons = numgrad_results.noise_status(ctx)
    if status != "disturbed":
        return []
    return ["> **WARNING: this run was disturbed** — times and fractions are not trustworthy; "
            "rerun on a quiet machine. " + reasons.replace("|", "/"), ""]


def model_section(model, claims):
    md = ["## The machine model (measured, not assumed)", "",
          "A streaming read of every working-set size from 16 KiB up, per thread count; the "
          "levels are the plateaus of that curve, a level ends at its knee (where the curve has "
          "fallen halfway, geometrically, to the next plateau). Every `%bw` below divides by "
          "this curve at the benchmark's own per-thread working set (docs/benchmarks.md).", ""]
    if not model:
        return md + ["(no model in this run's context)", ""]
    md += ["| threads | level | ends at (per thread) | plateau | read ceiling |",
           "|---:|---|---:|---|---:|"]
    for t, m in sorted(model.items()):
        for lv in m["levels"]:
            md.append("| %d | %s | %s | %s – %s | %.1f GB/s |" % (
                t, lv.name, fmt_bytes(lv.knee) if lv.knee else "–", fmt_bytes(lv.first),
                fmt_bytes(lv.last), lv.bw / 1e9))
        md.append("| %d | FMA peak | | | f32 %.0f, f64 %.0f GFLOP/s |" % (
            t, m["fma_f32"] / 1e9, m["fma_f64"] / 1e9))
    md += ["", "What the OS reports, against the measurement:", "",
           "| source | level | claims | verdict | evidence |", "|---|---|---:|---|---|"]
    for source, level, b, verdict, evidence in claims:
        md.append("| %s | %s | %s | %s | %s |" % (
            source, level, fmt_bytes(b), "**contradicted**" if verdict == "contradicted" else
            verdict, evidence))
    contradicted = [c for c in claims if c[3] == "contradicted"]
    if contradicted:
        md += ["", "Contradicted by measurement, so not used: " + "; ".join(
            "%s's %s of %s" % (s, lv, fmt_bytes(b)) for s, lv, b, _, _ in contradicted) + "."]
    return md + [""]


def noise_section(ctx, ceiling_rows):
    md = ["## Noise", ""]
    status, reasons = numgrad_results.noise_status(ctx)
    md += ["Verdict: **%s**%s" % (status, (": " + reasons) if reasons else ""), "",
           "Thresholds: " + ctx.get("noise.thresholds", "?"), "",
           "| | before | after |", "|---|---|---|"]
    for key, what in (("load_avg", "load average (1, 5, 15 min)"),
                      ("others_busy_cpus", "CPUs other processes kept busy (0.25 s sample)"),
                      ("probe", "ceiling probe against the model")):
        md.append("| %s | %s | %s |" % (what, ctx.get("noise.before." + key, "?"),
                                        ctx.get("noise.after." + key, "?")))
    md += ["", "Over the run (%s s): hypervisor steal %s of CPU time; this process's CPU time / "
           "real time %s; median CPU / real time of one-thread benchmarks %s." % (
               ctx.get("noise.run_seconds", "?"), pct(float(ctx.get("noise.steal_share", 0))),
               ctx.get("noise.process_cpu_over_real", "?"),
               ctx.get("noise.serial_cpu_over_real", "?")), ""]
    if ceiling_rows:
        md += ["The model's ceilings measured again during the run (a fraction well below 100% "
               "means the machine was slower than when the model was measured):", "",
               "| ceiling | threads | this run | of the model | spread |",
               "|---|---:|---:|---:|---:|"]
        for r in ceiling_rows:
            md.append("| %s | %d | %s | %s | %s |" % (
                r.id + ("/" + fmt_bytes(r.bytes) if r.bytes else ""), r.threads,
                ("%.1f GB/s" % (r.bytes_s / 1e9)) if r.bytes_s else "%.1f GFLOP/s" % r.gflops(),
                frac(r, "frac_bw" if r.bytes_s else "frac_peak"), pct(r.spread)))
        md.append("")
    return md


def anomaly_section(rows):
    anomalies = [r for r in rows if r.anomaly]
    if not anomalies:
        return ["## Anomalies", "", "None: no fraction of a ceiling above 1.05.", ""]
    md = ["## Anomalies (%d)" % len(anomalies), "",
          "Fractions above 1.05 of a measured ceiling. They are not results: numgrad_bench "
          "names the likely cause of each, and the tables print `anomaly` in their place.", "",
          "| benchmark | cause (from numgrad_bench) |", "|---|---|"]
    for r in sorted(anomalies, key=lambda r: r.name):
        md.append("| %s | %s |" % (r.name, r.label.replace("|", "/")))
    return md + [""]


COUNTERS_DOC = """Counters (per call; an epoch is ceil(N/b) calls, i.e. N rows):
rows/s = b / time; bytes/s = b (d+1) sizeof(T) / time (X and y read once: the least any pass
must read); GFLOP/s from loss 2bd, residual gradient 10bd, blackbox 4bd^2, analytic 4bd;
%bw = bytes/s / the machine model's read ceiling at the benchmark's per-thread working set and
thread count (cold families: the memory level); %peak = flop/s / FMA peak of the accumulator
type at the same thread count. x scalar = scalar time / time (same family, algorithm, types
and shape; scalar runs on 1 thread); x peer = best peer time / time (loss vs Eigen and
OpenBLAS loss; residual and analytic vs OpenBLAS analytic gradient; blackbox vs the Eigen
blackbox). Times are wall-clock (real time), medians over repetitions; spread = coefficient of
variation over the repetitions."""


def table(rows, index, peers, title, with_spread):
    cols = "| benchmark | threads | time |%s rows/s | GB/s | GFLOP/s | x scalar | x peer | %%bw | %%peak |"
    out = ["### " + title, "", cols % (" spread |" if with_spread else ""),
           "|---|---:|---:|" + ("---:|" if with_spread else "") + "---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r.error is not None, r.seconds)):
        if r.error:
            out.append("| %s | %d | ERROR: %s |%s | | | | | | |" % (
                r.id, r.threads, r.error.replace("|", "/"), " |" if with_spread else ""))
            continue
        sc, bp = scalar_of(r, index), best_peer(r, peers)
        out.append("| %s | %d | %s |%s %s | %s | %s | %s | %s | %s | %s |" % (
            r.id, r.threads, fmt_time(r.seconds), (" %s |" % pct(r.spread)) if with_spread else "",
            fmt(r.rows_s, 1e6, 3) + "M", fmt(r.bytes_s, 1e9), fmt(r.gflops()),
            fmt_ratio(ratio(sc.seconds, r.seconds)) if sc and not sc.error else "-",
            fmt_ratio(ratio(bp.seconds, r.seconds)) if bp else "-",
            frac(r, "frac_bw"), frac(r, "frac_peak")))
    return out + [""]


def variant_tables(rows, index, peers):
    with_spread = any(r.spread is not None for r in rows)
    md = ["## Every variant and peer", "", COUNTERS_DOC, ""]
    groups = defaultdict(list)
    for r in rows:
        if r.kind != "ceiling":
            fam = r.cmp_family
            groups[(fam, r.n if fam in ("loss_cold", "grad_cold", "epoch") else r.b, r.b,
                    r.d)].append(r)
    order = {"loss": 0, "grad": 1, "loss_cold": 2, "grad_cold": 3, "epoch": 4}
    for key in sorted(groups, key=lambda k: (order.get(k[0], 9), k[3], k[2], k[1])):
        fam, n, b, d = key
        md += table(groups[key], index, peers, "%s, N=%d b=%d d=%d" % (fam, n, b, d), with_spread)
    return md


def errors_section(errors):
    if not errors:
        return []
    md = ["## Errors (%d benchmarks did not run)" % len(errors), "",
          "A benchmark whose kernel disagrees with the high-precision reference beyond its "
          "error bound (docs/design.md) is skipped, never timed. By kernel family:", "",
          "| family.types | failed benchmarks |", "|---|---:|"]
    by = defaultdict(int)
    for r in errors:
        by[r.id.rsplit(".", 2)[0] + "." + r.types if r.kind == "kernel" else r.id] += 1
    md += ["| %s | %d |" % (k, v) for k, v in sorted(by.items())] + [""]
    return md + ["First message: `%s`: %s" % (errors[0].name, errors[0].error), ""]


def build(ctx, machine, rows, folder):
    index = {(r.family, r.id, r.shape(), r.threads): r for r in rows if r.kind == "kernel"}
    peers = defaultdict(list)
    for r in rows:
        if r.kind == "peer":
            peers[(r.elem, r.b, r.d)].append(r)
    model, claims = numgrad_results.model(ctx), numgrad_results.claims(ctx)
    sweep = numgrad_results.loss_sweep(ctx)
    summary, key = summaries(rows, index, peers, model, sweep)
    written, skipped = make_plots(rows, index, model, claims, sweep, folder)
    model_ceilings = [r for r in rows if r.kind == "ceiling" and not r.error and
                      (r.id.startswith("fma_peak") or
                       (r.id.startswith("read_bw.") and r.id != "read_bw.dataset"))]
    md = ["# numgrad benchmark report", ""] + banner(ctx) + header(ctx, machine)
    md += ["## Summary", "", "Best variant per family at the all-kernel shapes (f32 data):", ""]
    md += summary + ["", "## Key ratios (same run)", ""] + ["- " + k for k in key] + [""]
    md += anomaly_section(rows) + errors_section([r for r in rows if r.error])
    md += model_section(model, claims) + noise_section(ctx, model_ceilings)
    md += ["## Plots", ""] + ["![%s](%s)" % (p, p) for p in written] + [""]
    if skipped:
        md += ["Not drawn (no data in this run): " +
               "; ".join("`%s` (%s)" % (p, why) for p, why in skipped), ""]
    md += variant_tables(rows, index, peers)
    others = [r for r in rows if r.kind == "ceiling" and r not in model_ceilings]
    if others:
        md += ["### other ceilings: the sum over a dataset, split limits", "",
               "| benchmark | threads | time | GB/s | %bw |", "|---|---:|---:|---:|---:|"]
        md += ["| %s | %d | %s | %s | %s |" % (r.name.split("/real_time")[0], r.threads,
                                               fmt_time(r.seconds), fmt(r.bytes_s, 1e9),
                                               frac(r, "frac_bw")) for r in others]
    write_whole(os.path.join(folder, "report.md"), lambda f: f.write("\n".join(md) + "\n"))
    return summary, key


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stdout if len(sys.argv) == 2 else sys.stderr)
        return 0 if len(sys.argv) == 2 else 2
    folder = sys.argv[1]
    try:
        ctx, machine, rows = load(folder)
    except (OSError, ValueError) as e:
        print("report.py: cannot read %s: %s" % (folder, e), file=sys.stderr)
        return 1
    if not rows:
        print("report.py: no benchmarks in %s" % numgrad_results.results_path(folder),
              file=sys.stderr)
        return 1
    summary, key = build(ctx, machine, rows, folder)
    status, reasons = numgrad_results.noise_status(ctx)
    print("\n".join(summary) + "\n")
    print("\n".join("- " + k for k in key))
    nerr, nanom = sum(1 for r in rows if r.error), sum(1 for r in rows if r.anomaly)
    print("\n%d benchmarks, %d errors, %d anomalies; noise: %s; report.md and plots written" % (
        len(rows), nerr, nanom, status))
    if status == "disturbed":
        print("WARNING: this run was disturbed: " + reasons)
    return 0


if __name__ == "__main__":
    sys.exit(main())
