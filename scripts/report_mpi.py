#!/usr/bin/env python3
"""The report section and scaling plot of a scripts/bench-mpi.sh folder.

Reads FOLDER/results.json (numgrad_bench_mpi's runs for 1..P ranks, merged by bench-mpi.sh) and
writes FOLDER/report.md (per benchmark: time per gradient, its compute and communication parts,
strong-scaling speedup or weak-scaling efficiency against one rank, and the deterministic
join's cost against the Allreduce baseline) and FOLDER/mpi_scaling.png; prints the table.
Usage: report_mpi.py FOLDER   (the plot needs matplotlib; the table does not)
"""
import json
import os
import re
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numgrad_files import write_whole  # noqa: E402

NAME = re.compile(r"^(mpi_grad|mpi_grad_allreduce|mpi_join)/([^/]+)/scaling:(\w+)/n:(\d+)/d:(\d+)"
                  r"/ranks:(\d+)/threads:(\d+)$")


def rows_of(folder):
    """{(family, kernel, scaling, d, threads, ranks): (n, seconds, compute, communicate,
    bytes each rank receives)}."""
    with open(os.path.join(folder, "results.json")) as f:
        data = json.load(f)
    runs = defaultdict(list)
    for b in data["benchmarks"]:
        runs[b["name"]].append(b)
    rows = {}
    for name, reps in runs.items():
        m = NAME.match(name)
        if not m:
            continue
        family, kernel, scaling, n, d, ranks, threads = m.groups()
        med = lambda k: statistics.median(r[k] for r in reps)  # noqa: E731
        rows[(family, kernel, scaling, int(d), int(threads), int(ranks))] = (
            int(n), med("real_time") * 1e-9, med("compute_s"), med("communicate_s"),
            med("bytes_exchanged"))
    return rows


def table(rows):
    lines = ["| benchmark | scaling | ranks | n | ms per call | compute ms | communicate ms "
             "| KiB received | vs 1 rank | join / allreduce |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(rows):
        family, kernel, scaling, d, threads, ranks = key
        n, sec, comp, comm, received = rows[key]
        one = rows.get((family, kernel, scaling, d, threads, 1))
        # Strong: speedup t1 / tP on the same rows; weak: efficiency t1 / tP on P times them.
        vs = "%.2fx %s" % (one[1] / sec, "speedup" if scaling == "strong" else "efficiency") \
            if one else "-"
        base = rows.get(("mpi_grad_allreduce",) + key[1:]) if family == "mpi_grad" else None
        join = "%.2f" % (sec / base[1]) if base else ""
        lines.append("| %s/%s, d %d, %d thread(s) per rank | %s | %d | %d | %.3f | %.3f | %.3f | "
                     "%.1f | %s | %s |" % (family, kernel, d, threads, scaling, ranks, n,
                                           sec * 1e3, comp * 1e3, comm * 1e3, received / 1024,
                                           vs, join))
    return lines


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is missing"
    series = defaultdict(list)
    for key, (n, sec, _, _, _) in rows.items():
        family, kernel, scaling, d, threads, ranks = key
        if family == "mpi_join":
            continue
        one = rows.get((family, kernel, scaling, d, threads, 1))
        if one:
            series[(family, scaling)].append((ranks, one[1] / sec))
    if not series:
        return "no runs to plot"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    top = 1
    for (family, scaling), pts in sorted(series.items()):
        pts.sort()
        top = max(top, pts[-1][0])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                linestyle="-" if scaling == "strong" else "--",
                label="%s, %s (%s)" % (family, scaling,
                                       "speedup" if scaling == "strong" else "efficiency"))
    ax.plot([1, top], [1, top], color="grey", linewidth=0.8, label="ideal strong speedup")
    ax.set_xticks(range(1, top + 1))
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("t(1 rank) / t(P ranks)")
    ax.set_title("Distributed gradient: strong and weak scaling")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    write_whole(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    folder = sys.argv[1]
    rows = rows_of(folder)
    lines = table(rows)
    skipped = plot(rows, os.path.join(folder, "mpi_scaling.png"))
    report = ["## MPI: the distributed gradient over ranks", "",
              "Each gradient's time is the slowest rank's; *compute* is its chunk sums and join, "
              "*communicate* the collective, waiting for the slowest rank included. "
              "*join / allreduce*: the deterministic gather-and-join against one MPI_Allreduce "
              "of the summed vector (bits that depend on the rank count); *mpi_join*: the "
              "join alone, on one rank, no communication.", ""] + lines + [""]
    report.append("![scaling](mpi_scaling.png)" if skipped is None
                  else "(no scaling plot: %s)" % skipped)
    write_whole(os.path.join(folder, "report.md"), lambda f: f.write("\n".join(report) + "\n"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
