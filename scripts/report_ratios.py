"""The report's summary and key ratios: the best variant per family at the all-kernel shapes,
and the ratios measured side by side in the run (SIMD against Eigen with the L2 cap, the 1 GiB
loss against its own dataset's read ceiling, blackbox against scalar, gradient against loss,
threads against one thread and against the split limit).
"""
from report_common import best_peer, fmt_ratio, fmt_time, frac, is_simd, ratio, scalar_of


def summaries(rows, index, peers, model, sweep):
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
            frac(best, "frac_bw"), frac(best, "frac_peak")))
    return lines, key_ratios(rows, index, peers, model, sweep)


def best(cands):
    cands = [r for r in cands if not r.error]
    return min(cands, key=lambda r: r.seconds) if cands else None


def simd_vs_eigen(ok, model, sweep):
    """The best serial SIMD loss against Eigen over d on the loss sweep's hot f32 batches (half
    the measured L2: sweep = {d: b}), with the fraction of the read ceiling at that working set
    each reaches, and the most any kernel could show: the model's L2 read ceiling against
    Eigen."""
    l2 = [lv.bw for lv in model.get(1, {}).get("levels", []) if lv.name == "l2"]
    parts = []
    for d, b in sorted(sweep.items()):
        simd = best([r for r in ok if r.family == "loss" and r.types == "f32" and is_simd(r)
                     and r.axis == "serial" and r.b == b and r.n == b and r.d == d])
        eig = best([r for r in ok if r.kind == "peer" and r.id == "eigen.loss.f32" and
                    r.b == b and r.d == d])
        if simd and eig:
            cap = ", L2 ceiling: <= %.2fx" % (l2[0] / eig.bytes_s) if l2 and eig.bytes_s else ""
            parts.append("d=%d (b=%d) %.2fx %s, %s of the read ceiling against Eigen's %s%s" % (
                d, b, eig.seconds / simd.seconds, simd.prefix, frac(simd, "frac_bw"),
                frac(eig, "frac_bw"), cap))
    if not parts:
        return []
    return ["Best serial SIMD f32 loss vs Eigen (hot batches of half the measured L2; Eigen time "
            "/ SIMD time; the cap is the model's L2 read ceiling / Eigen's bandwidth, what a "
            "kernel reading at the ceiling would show): " + "; ".join(parts)]


def big_loss(ok, rows):
    """The 1 GiB f32 loss against the memory ceiling and the same sum over its dataset."""
    out = []
    big = [r for r in ok if r.family in ("loss", "peer") and r.algorithm == "loss" and
           r.n == r.b and r.d == 64 and r.types == "f32" and r.n * 65 * 4 >= (1 << 30)]
    for t in sorted({r.threads for r in big}):
        bt = best([r for r in big if r.threads == t and r.kind == "kernel"])
        pe = best([r for r in big if r.threads == t and r.kind == "peer"])
        # The same sum over this very dataset: memory bandwidth differs between buffers on a VM.
        same = [r for r in rows if r.kind == "ceiling" and r.id == "read_bw.dataset" and
                bt and r.n == bt.n and r.threads == t and not r.error and r.bytes_s]
        if bt:
            of_model = ("above the model's memory ceiling (an anomaly)" if bt.anomaly else
                        "%s of the model's memory ceiling" % frac(bt, "frac_bw"))
            out.append("1 GiB f32 loss (N=b=%d, d=64), %d thread(s): best %s %.1f GB/s, %s%s%s" % (
                           bt.n, t, bt.id, bt.bytes_s / 1e9, of_model,
                           " and %.0f%% of the same sum over this dataset (%.1f GB/s)" % (
                               100 * bt.bytes_s / same[0].bytes_s, same[0].bytes_s / 1e9)
                           if same else "",
                           "; best peer %s %.1f GB/s = %s" % (pe.id, pe.bytes_s / 1e9,
                                                             frac(pe, "frac_bw")) if pe else ""))
    return out


# The widest SIMD ISA of each architecture's list (numgrad/isa_list.hpp), whose serial
# kernels the blackbox line shows off.
SHOWCASE_ISAS = ("avx512", "neon64")


def blackbox_vs_scalar(ok, index):
    out = []
    isa = next((i for i in SHOWCASE_ISAS if any(r.isa == i for r in ok)), None)
    for types in ("f32", "f64"):
        sc = index.get(("grad", "scalar.blackbox." + types, (512, 512, 64), 1))
        bb = best([r for r in ok if r.family == "grad" and r.algorithm == "blackbox" and
                   r.types == types and r.isa == isa and r.axis == "serial" and
                   r.shape() == (512, 512, 64)])
        if sc and bb and not sc.error:
            out.append("Blackbox %s b=512 d=64: %s is %.1fx scalar (%s vs %s)" % (
                types, bb.id, sc.seconds / bb.seconds, fmt_time(bb.seconds), fmt_time(sc.seconds)))
    return out


def gradient_vs_loss(ok, rows, index):
    """The residual gradient's time over one loss pass at the same shape."""
    out = []
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
    # From memory (batches of 256 MiB and more): the gradient reads each row chunk from memory
    # once, as the loss does, and again from cache. Beside them, one pass over the same dataset:
    # its sum (how fast this buffer streams) and the gradient's FMAs instead of the sum's adds
    # (a floor for a gradient hiding them behind the stream); memory bandwidth drifts, so the
    # loss, that pass and the gradient are also given over the sum, in square brackets.
    parts = []
    for r in sorted(ok, key=lambda r: (r.types, r.d)):
        if (r.family == "grad" and r.algorithm == "residual" and r.axis == "serial" and
                r.threads == 1 and r.n == r.b and r.b * (r.d + 1) * (4 if r.elem == "f32" else 8)
                >= 1 << 28):
            lo = index.get(("loss", r.id, r.shape(), 1))
            if not lo or lo.error:
                continue
            off = index.get(("grad_noprefetch", r.id, r.shape(), 1))
            once = {c.id.split(".")[0]: c for c in rows
                    if c.kind == "ceiling" and not c.error and c.n == r.n and c.d == r.d and
                    c.id in ("sum.dataset." + r.elem, "sum_fma.dataset." + r.elem)}
            text = "%s d=%d b=%d %.2fx" % (r.types, r.d, r.b, r.seconds / lo.seconds)
            if off and not off.error:
                text += " (without prefetch %.2fx)" % (off.seconds / lo.seconds)
            if "sum" in once and "sum_fma" in once:
                s = once["sum"].seconds
                text += " [over the sum: loss %.2f, sum_fma %.2f, gradient %.2f]" % (
                    lo.seconds / s, once["sum_fma"].seconds / s, r.seconds / s)
            parts.append(text)
    if parts:
        out.append("Serial residual gradient / loss time from memory (batches >= 256 MiB, the "
                   "same kernel; in square brackets, times over one thread's sum of the same "
                   "dataset, ceiling/sum, with ceiling/sum_fma, that pass doing the gradient's "
                   "FMAs instead): " +
                   ", ".join(parts))
    return out


def auto_vs_given_steps(ok, index):
    """gradient_auto (the data-aware steps chosen in the call, then the gradient) over the
    gradient with given steps, same kernel, shape and threads: the worst, the median and the
    best-ISA serial SIMD kernel per shape, with that kernel's steps alone (the steps family:
    the pass for the sums and the rule) over its gradient."""
    by_shape = {}
    for r in ok:
        if r.family == "grad_auto":
            g = index.get(("grad", r.id, r.shape(), r.threads))
            if g and not g.error:
                by_shape.setdefault(r.shape(), []).append((r.seconds / g.seconds, r))
    out = []
    for shape, pairs in sorted(by_shape.items()):
        pairs.sort(key=lambda p: p[0])
        worst, median = pairs[-1], pairs[len(pairs) // 2]
        simd = [p for p in pairs if p[1].prefix.startswith("simd.") and p[1].axis == "serial"
                and p[1].types == "f32"]
        best_simd = min(simd, key=lambda p: p[1].seconds) if simd else None
        alone = ""
        if best_simd:
            r = best_simd[1]
            st, g = index.get(("steps", r.id, shape, r.threads)), index.get(("grad", r.id, shape,
                                                                               r.threads))
            if st and not st.error:
                alone = " (its steps alone %.2fx)" % (st.seconds / g.seconds)
        out.append("Steps chosen in the call / given steps (grad_auto / grad), N=%d b=%d d=%d, "
                   "%d kernels: median %.2fx, worst %.2fx (%s t%d)%s" % (
                       shape[0], shape[1], shape[2], len(pairs), median[0], worst[0],
                       worst[1].id, worst[1].threads,
                       ", fastest serial SIMD f32 %s %.2fx%s" % (best_simd[1].id, best_simd[0],
                                                                  alone)
                       if best_simd else ""))
    return out


def threads_vs_one(ok, index, tmax):
    """The parallel kernels of the thread-scaling shapes at tmax threads against one."""
    out = []
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
    return out


def parallel_vs_inner(ok, rows, index, tmax):
    """A parallel gradient at tmax threads against its serial inner kernel (the id without
    "tbb.<axis>.") at one thread, for b*d >= 2^20, beside the split limit of that kernel
    (ceiling/split.<inner>: the inner kernel on 1/t of the rows per thread, at once)."""
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
            split = [c for c in rows if c.kind == "ceiling" and c.id == "split." + inner and
                     c.n == r.b and c.d == r.d and c.threads == tmax and not c.error]
            if split:
                lines[key].append("split limit of %s %.2fx" % (
                    inner, one.seconds / split[0].seconds))
    return ["%d threads vs the serial inner kernel, %s b=%d d=%d: %s" % (
        tmax, alg, shape[1], shape[2], ", ".join(sorted(set(parts))))
        for (alg, shape), parts in sorted(lines.items())]


def key_ratios(rows, index, peers, model, sweep):
    ok = [r for r in rows if not r.error and r.kind != "ceiling"]
    out = simd_vs_eigen(ok, model, sweep) + big_loss(ok, rows) + blackbox_vs_scalar(ok, index)
    out += gradient_vs_loss(ok, rows, index) + auto_vs_given_steps(ok, index)
    tmax = max([r.threads for r in ok] or [1])
    if tmax > 1:
        out += threads_vs_one(ok, index, tmax) + parallel_vs_inner(ok, rows, index, tmax)
    return out
