"""The report's plots: the machine model, throughput against batch size and against d with the
measured ceilings and cache boundaries, speedup over scalar, thread scaling with the split
limit, a labelled roofline per accumulator type, and epoch time against b.

Every variant keeps one colour and marker across all plots (Styles). A plot without data is
not written; make_plots returns, beside the files written, why each missing one was skipped.
"""
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from numgrad_files import write_whole  # noqa: E402
from numgrad_results import format_bytes  # noqa: E402

PEER_LIBS = ("eigen", "openblas")


class Styles:
    """One colour and marker per variant (the kernel family prefix, or the peer library),
    assigned once over the whole run in sorted order, so a variant looks the same everywhere."""

    MARKERS = "os^vD<>pXh*P"

    def __init__(self, rows):
        keys = sorted({self.key(r) for r in rows if r.kind in ("kernel", "peer")})
        cmap = plt.get_cmap("tab20")
        self.style = {k: dict(color=cmap(i % 20), marker=self.MARKERS[i % len(self.MARKERS)])
                      for i, k in enumerate(keys)}

    @staticmethod
    def key(r):
        return r.lib if r.kind == "peer" else r.prefix

    def of(self, r, **extra):
        s = dict(self.style.get(self.key(r), {}), linewidth=1.3, markersize=4)
        if r.kind == "peer":
            s["linestyle"] = "--"
        s.update(extra)
        return s


def level_lines(ax, levels, to_x, to_y, horizontal=True, vertical=True):
    """Dotted lines for each level's ceiling (y) and cache boundary (x), labelled."""
    for lv in levels:
        if horizontal and lv.bw > 0:
            y = to_y(lv.bw)
            ax.axhline(y, color="0.5", linestyle=":", linewidth=0.9)
            ax.annotate("%s ceiling" % lv.name, (1.0, y), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=6.5, color="0.35")
        if vertical and lv.knee > 0:
            x = to_x(lv.knee)
            if x:
                ax.axvline(x, color="0.6", linestyle="-.", linewidth=0.8)
                ax.annotate("%s ends" % lv.name, (x, 1.0), xycoords=("data", "axes fraction"),
                            rotation=90, ha="right", va="top", fontsize=6.5, color="0.35")


def plot_model(model, claims, path):
    if not model:
        return "the results carry no machine model"
    fig, ax = plt.subplots(figsize=(9, 5))
    for t, m in sorted(model.items()):
        pts = m.get("curve", [])
        if pts:
            ax.plot([b for b, _ in pts], [bw / 1e9 for _, bw in pts], marker="o", markersize=2.5,
                    linewidth=1.2, label="%d thread(s): read bandwidth (all threads)" % t)
        for lv in m["levels"]:
            ax.hlines(lv.bw / 1e9, lv.first, lv.last, colors="k", linewidth=2.2, alpha=0.5)
            if lv.knee > 0 and t == 1:
                ax.axvline(lv.knee, color="tab:green", linewidth=0.9)
                ax.annotate("%s ends at %s" % (lv.name, format_bytes(lv.knee)), (lv.knee, 0.02),
                            xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                            ha="right", va="bottom", color="tab:green")
    merged = defaultdict(list)  # one label per claimed size: "sysfs, sysconf L2 1 MiB"
    for source, level, b, verdict, _ in claims:
        merged[(b, level, verdict)].append(source)
    for (b, level, verdict), sources in sorted(merged.items()):
        color = "tab:red" if verdict == "contradicted" else "0.4"
        ax.axvline(b, color=color, linestyle=":", linewidth=1)
        ax.annotate("%s %s %s (%s)" % (", ".join(sources), level, format_bytes(b), verdict),
                    (b, 0.98), xycoords=("data", "axes fraction"), rotation=90, fontsize=6.5,
                    ha="left", va="top", color=color)
    bytes_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("working set per thread")
    ax.set_ylabel("GB/s")
    ax.set_title("machine model: streaming read bandwidth against working set\n"
                 "(bars: plateaus = levels; green: measured level ends; dotted: OS claims)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower left")
    return save(fig, path)


def bytes_axis(ax):
    """A log2 axis of sizes labelled 16 KiB, 1 MiB, ... at every other power of two."""
    ax.set_xscale("log", base=2)
    lo, hi = ax.get_xlim()
    ticks = [2.0 ** k for k in range(10, 42, 2) if lo <= 2.0 ** k <= hi]
    ax.set_xticks(ticks)
    ax.set_xticklabels([format_bytes(t) for t in ticks], fontsize=7)
    ax.minorticks_off()


def ceiling_line(ax, rows, x_of, per_row):
    """The read ceiling each %bw divided by (the model at that working set), recovered from
    the rows themselves as rate / fraction, drawn as one dashed line."""
    pts = {}
    for r in rows:
        if r.frac_bw and not r.anomaly:
            pts[x_of(r)] = per_row(r) / r.frac_bw
    if pts:
        xs = sorted(pts)
        ax.plot(xs, [pts[x] for x in xs], color="k", linestyle="--", linewidth=1.1,
                label="read ceiling at this working set (model)")


def save(fig, path):
    fig.tight_layout()
    write_whole(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return None


def series_of(rows, pred, key=lambda r: (r.id, r.threads)):
    out = defaultdict(list)
    for r in rows:
        if pred(r):
            out[key(r)].append(r)
    return out


def plot_throughput(kern, peer, model, styles, path):
    """Loss GB/s (d=64) and residual gradient rows/s (d=16) against b, hot, f32, one thread,
    with the read ceiling at each batch's working set (for the gradient: one pass over X and y
    per call, a bound its two passes cannot beat) and where the batch outgrows each level."""
    levels = model.get(1, {}).get("levels", [])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    drawn = 0
    for ax, fam, alg, d, metric, scale, ylabel in (
            (axes[0], "loss", "loss", 64, "bytes_s", 1e9, "loss: GB/s (X and y read once)"),
            (axes[1], "grad", "residual", 16, "rows_s", 1e6, "residual gradient: million rows/s")):
        def wanted(r):
            if r.types != "f32" or r.d != d or r.n != r.b or r.threads != 1:
                return False
            if r.kind == "kernel":
                return r.family == fam and r.algorithm == alg
            return r.cmp_family == fam and (fam != "grad" or r.op == "analytic")
        series = {k: v for k, v in series_of(kern + peer, wanted).items() if len(v) >= 4}
        for (sid, _), rs in sorted(series.items()):
            rs.sort(key=lambda r: r.b)
            ax.plot([r.b for r in rs], [getattr(r, metric) / scale for r in rs], label=sid,
                    **styles.of(rs[0]))
        drawn += len(series)
        row_bytes = (d + 1) * 4.0
        ceiling_line(ax, [r for rs in series.values() for r in rs], lambda r: r.b,
                     lambda r: getattr(r, metric) / scale)
        level_lines(ax, levels, lambda b: b / row_bytes, None, horizontal=False)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size b (rows)")
        ax.set_ylabel(ylabel)
        ax.set_title("%s against b, f32, d=%d, hot, 1 thread" % (alg, d))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5)
    if not drawn:
        plt.close(fig)
        return "no loss (d=64) or residual gradient (d=16) sweep over b in this run"
    return save(fig, path)


def plot_loss_vs_d(kern, peer, styles, sweep, path):
    series = {k: v for k, v in series_of(
        kern + peer, lambda r: r.types == "f32" and sweep.get(r.d) == r.b and r.n == r.b and
        r.algorithm == "loss" and r.family in ("loss", "peer") and r.threads == 1).items()
        if len(v) >= 3}
    if not series:
        return "no loss sweep over d in this run"
    fig, ax = plt.subplots(figsize=(8, 5))
    for (sid, _), rs in sorted(series.items()):
        rs.sort(key=lambda r: r.d)
        ax.plot([r.d for r in rs], [r.bytes_s / 1e9 for r in rs], label=sid, **styles.of(rs[0]))
    ceiling_line(ax, [r for rs in series.values() for r in rs], lambda r: r.d,
                 lambda r: r.bytes_s / 1e9)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("features d")
    ax.set_ylabel("GB/s")
    ax.set_title("loss throughput against d, f32, hot batches of half the measured L2, 1 thread\n"
                 "(dashed: the read ceiling at each batch's working set)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5)
    return save(fig, path)


def plot_speedup(kern, index, styles, path):
    shape = (512, 512, 64)
    panels = []
    for fam, alg in (("loss", "loss"), ("grad", "residual"), ("grad", "blackbox")):
        best = {}
        for r in kern:
            if r.family == fam and r.algorithm == alg and r.shape() == shape and r.types == "f32":
                if r.prefix not in best or r.seconds < best[r.prefix].seconds:
                    best[r.prefix] = r
        sc = index.get((fam, "scalar.%s.f32" % ("residual" if alg == "loss" else alg), shape, 1))
        if sc and best:
            panels.append((alg, sc, best))
    if not panels:
        return "no kernel and scalar pair at b=512 d=64"
    fig, axes = plt.subplots(1, len(panels), figsize=(4.7 * len(panels), 6.5), squeeze=False)
    for ax, (alg, sc, best) in zip(axes[0], panels):
        items = sorted(best.values(), key=lambda r: sc.seconds / r.seconds)
        ax.barh(["%s (t%d)" % (r.prefix, r.threads) for r in items],
                [sc.seconds / r.seconds for r in items],
                color=[styles.of(r)["color"] for r in items])
        ax.axvline(1, color="k", linewidth=0.8)
        ax.set_xlabel("speedup over scalar (x), best thread count")
        ax.set_title("%s, f32, b=512 d=64" % alg)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
    return save(fig, path)


def plot_scaling(kern, peer, ceilings, styles, path):
    """Speedup over the same kernel at one thread; the split limit (ceiling/split.<inner>:
    the serial inner kernel on 1/t of the rows per thread, at once) where it was measured."""
    shapes = sorted({(r.family, r.shape(), r.algorithm) for r in kern
                     if r.axis != "serial" and r.types == "f32" and r.threads > 1 and
                     r.family in ("loss", "grad") and r.algorithm in ("loss", "residual")})
    shapes = [s for s in shapes if s[1][1] * s[1][2] >= 1 << 18][:4]
    panels = []
    for fam, shape, alg in shapes:
        series = {sid: sorted(rs, key=lambda r: r.threads) for sid, rs in series_of(
            kern + peer, lambda r, fam=fam, shape=shape, alg=alg: r.shape() == shape and
            r.types == "f32" and ((r.kind == "kernel" and r.family == fam and r.algorithm == alg
                                   and r.axis != "serial") or
                                  (r.kind == "peer" and r.lib == "openblas" and r.cmp_family == fam)),
            key=lambda r: r.id).items()}
        series = {k: v for k, v in series.items() if len(v) >= 2 and v[0].threads == 1}
        if series:
            panels.append((fam, shape, alg, series))
    if not panels:
        return "no parallel kernel measured at one and more threads on a batch of b*d >= 2^18"
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.8), squeeze=False)
    tmax = max(r.threads for r in kern)
    for ax, (fam, shape, alg, series) in zip(axes[0], panels):
        for sid, rs in sorted(series.items()):
            ax.plot([r.threads for r in rs], [rs[0].seconds / r.seconds for r in rs], label=sid,
                    **styles.of(rs[0]))
        splits = defaultdict(list)
        for c in ceilings:  # split.<serial id>: only the panel's own algorithm
            if c.id.startswith("split.") and c.id.split(".")[-2] == alg and \
                    c.n == shape[1] and c.d == shape[2]:
                splits[c.id[len("split."):]].append(c)
        for inner, cs in sorted(splits.items()):
            one = next((r for r in kern if r.id == inner and r.shape() == shape and
                        r.threads == 1), None)
            if one:
                cs.sort(key=lambda c: c.threads)
                ax.plot([1] + [c.threads for c in cs], [1] + [one.seconds / c.seconds for c in cs],
                        "k--", linewidth=1, label="split limit of %s" % inner)
        ax.plot([1, tmax], [1, tmax], "k:", label="ideal")
        ax.set_xlabel("threads")
        ax.set_ylabel("speedup over the same kernel on 1 thread")
        ax.set_title("%s, f32, N=b=%d d=%d" % (alg, shape[1], shape[2]))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    return save(fig, path)


def plot_roofline(kern, peer, model, styles, path):
    """GFLOP/s against FLOP per byte read once, one thread, one panel per accumulator type,
    the best three points of each algorithm labelled."""
    m1 = model.get(1, {})
    panels = []
    for acc, title in (("f32", "f32 data, f32 accumulation"),
                       ("f64", "f64 accumulation (f64 and f32acc64)")):
        pts = [r for r in kern + peer if r.family in ("loss", "grad", "peer") and r.threads == 1
               and r.flop_s and r.bytes_s and r.acc == acc]
        if pts:
            panels.append((acc, title, pts))
    if not panels:
        return "no one-thread benchmark with both flop/s and bytes/s"
    fig, axes = plt.subplots(1, len(panels), figsize=(8.5 * len(panels), 6.5), squeeze=False)
    for ax, (acc, title, pts) in zip(axes[0], panels):
        for key in sorted({Styles.key(r) for r in pts}):
            sel = [r for r in pts if Styles.key(r) == key]
            st = styles.of(sel[0])
            ax.scatter([r.flop_s / r.bytes_s for r in sel], [r.flop_s / 1e9 for r in sel], s=14,
                       alpha=0.75, color=st["color"], marker=st["marker"], label=key)
        # The best point of each algorithm, named; labels step down so they do not collide.
        best = sorted((max((r for r in pts if r.algorithm == alg), key=lambda r: r.flop_s)
                       for alg in {r.algorithm for r in pts}), key=lambda r: -r.flop_s)
        for i, r in enumerate(best):
            ax.annotate("best %s: %s (%s)" % (r.algorithm, Styles.key(r),
                                              "t%d" % r.threads if r.kind == "kernel" else "peer"),
                        (r.flop_s / r.bytes_s, r.flop_s / 1e9), fontsize=6.5,
                        xytext=(6, -12 * i - 4), textcoords="offset points",
                        arrowprops=dict(arrowstyle="-", color="0.5", linewidth=0.6))
        ais = [r.flop_s / r.bytes_s for r in pts]
        xs = [min(ais) / 2, max(ais) * 2]
        peak = m1.get("fma_%s" % acc, 0) / 1e9
        grid = [xs[0] * (xs[1] / xs[0]) ** (i / 60) for i in range(61)]
        for lv in m1.get("levels", []):
            bw = lv.bw / 1e9
            ax.plot(grid, [min(bw * x, peak) if peak else bw * x for x in grid], linestyle=":",
                    color="0.4", linewidth=1)
            ax.annotate("%s %.0f GB/s" % (lv.name, bw), (grid[0], bw * grid[0]), fontsize=6.5,
                        color="0.3")
        if peak:
            ax.axhline(peak, color="k", linewidth=1.2)
            ax.annotate("%s FMA peak %.0f GFLOP/s" % (acc, peak), (grid[0], peak), fontsize=7,
                        va="bottom")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity (FLOP per byte of X and y read once)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title("roofline, 1 thread, %s" % title)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=6, ncol=2, loc="lower right", title="variant", title_fontsize=6.5)
    return save(fig, path)


def plot_epoch(kern, styles, path):
    ep = [r for r in kern if r.family == "epoch" and r.types == "f32"]
    if not ep:
        return "no epoch benchmarks in this run"
    n0 = min(r.n for r in ep)
    series = series_of(ep, lambda r: r.n == n0)
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for (sid, t), rs in sorted(series.items()):
        rs.sort(key=lambda r: r.b)
        ax.plot([r.b for r in rs], [r.seconds * 1e3 for r in rs], label="%s t%d" % (sid, t),
                **styles.of(rs[0], linestyle="--" if "analytic" in sid else "-"))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size b")
    ax.set_ylabel("ms per epoch")
    ax.set_title("one SGD epoch over N=%d rows (d=16): where small batches stop paying" % n0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5)
    return save(fig, path)


def make_plots(rows, index, model, claims, sweep, folder):
    """Writes the plots; returns ([file written], [(file, why it was skipped)])."""
    plt.rcParams.update({"font.size": 9, "figure.dpi": 110})
    ok = [r for r in rows if not r.error]
    kern = [r for r in ok if r.kind == "kernel"]
    peer = [r for r in ok if r.kind == "peer"]
    ceilings = [r for r in ok if r.kind == "ceiling"]
    styles = Styles(ok)
    jobs = [("machine_model.png", lambda p: plot_model(model, claims, p)),
            ("throughput_vs_batch.png", lambda p: plot_throughput(kern, peer, model, styles, p)),
            ("loss_vs_d.png", lambda p: plot_loss_vs_d(kern, peer, styles, sweep, p)),
            ("speedup_over_scalar.png", lambda p: plot_speedup(kern, index, styles, p)),
            ("thread_scaling.png", lambda p: plot_scaling(kern, peer, ceilings, styles, p)),
            ("roofline.png", lambda p: plot_roofline(kern, peer, model, styles, p)),
            ("epoch_vs_batch.png", lambda p: plot_epoch(kern, styles, p))]
    written, skipped = [], []
    for name, job in jobs:
        path = os.path.join(folder, name)
        why = job(path)
        if why:
            skipped.append((name, why))
            if os.path.exists(path):
                os.remove(path)
        else:
            written.append(name)
    return written, skipped

