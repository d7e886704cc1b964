#!/usr/bin/env python3
"""Plots the CSV of `numgrad sweep-h --csv FILE` as a log-log PNG: central- and
forward-difference error against the step h, the central difference's error bound, the
data-aware rule's predicted optimum and the textbook steps 1e-5 and cbrt(eps).

Usage: scripts/plot_sweep_h.py SWEEP.csv [OUT.png]   (default OUT: SWEEP.png)

It re-runs itself under an interpreter that has matplotlib (Debian's /usr/bin/python3 first:
a pyenv python3 does not see python3-matplotlib), and says what to install when none has.
"""
import os
import subprocess
import sys

PREFERRED = ["/usr/bin/python3"]


def has_matplotlib(python):
    try:
        return subprocess.run([python, "-c", "import matplotlib"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_matplotlib():
    if os.environ.get("NUMGRAD_PLOT_REEXEC") != "1":
        for python in PREFERRED:
            if os.path.realpath(python) != os.path.realpath(sys.executable) and \
                    os.access(python, os.X_OK) and has_matplotlib(python):
                os.environ["NUMGRAD_PLOT_REEXEC"] = "1"
                os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("plot_sweep_h.py: no Python here imports matplotlib (tried %s and %s).\n"
                 "Install it: sudo apt-get install -y python3-matplotlib, then run\n"
                 "  /usr/bin/python3 scripts/plot_sweep_h.py SWEEP.csv"
                 % (", ".join(PREFERRED), sys.executable))


def read_sweep(path):
    meta, rows, header = {}, [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                key, _, value = line[1:].strip().partition("=")
                meta[key] = value
            elif header is None:
                header = line.split(",")
            else:
                rows.append({k: float(v) for k, v in zip(header, line.split(","))})
    if header is None or not rows:
        sys.exit("plot_sweep_h.py: %s has no data rows (is it from `numgrad sweep-h --csv`?)"
                 % path)
    return meta, rows


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split("\n\n")[1])
    ensure_matplotlib()
    import math
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.splitext(src)[0] + ".png"
    meta, rows = read_sweep(src)

    def series(key):
        pts = [(r["h"], r[key]) for r in rows if not math.isnan(r[key]) and r[key] > 0]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, ax = plt.subplots(figsize=(8.5, 6.4))
    scale = float(meta.get("grad_scale", "1") or 1) or 1.0
    h, e = series("central_rel")
    ax.loglog(h, e, "o-", color="tab:blue", ms=4, label="central difference")
    h, e = series("forward_rel")
    ax.loglog(h, e, "s-", color="tab:orange", ms=3.5, label="forward difference")
    h, e = series("central_bound")
    ax.loglog(h, [v / scale for v in e], "--", color="tab:blue", alpha=0.5,
              label="central: section 3 bound (worst case)")

    eps = float(meta.get("eps", "nan"))
    marks = [
        (float(meta.get("predicted_central", "nan")), "tab:green", "-",
         "data-aware rule (predicted central optimum)"),
        (float(meta.get("predicted_forward", "nan")), "tab:olive", "-.",
         "predicted forward optimum"),
        (1e-5, "tab:red", ":", "textbook h = 1e-5"),
        (eps ** (1.0 / 3.0), "tab:purple", ":", "textbook h = cbrt(eps)"),
    ]
    for x, color, style, label in marks:
        if not math.isnan(x):
            ax.axvline(x, color=color, ls=style, lw=1.5, label="%s: %.3g" % (label, x))

    ax.set_xlabel("step h")
    ax.set_ylabel("max_j |g_j - g*_j| / max_j |g*_j|")
    ax.set_title("%s\n%s" % (meta.get("kernel", "?"), meta.get("problem", "")), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    # Below the axes: inside, any corner hides part of a curve for some kernel or problem.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.tight_layout()
    save_atomically(fig, out)
    print("wrote %s" % out)


def save_atomically(fig, out):
    """Like every file numgrad writes, whole (numgrad_files.write_whole): a failure keeps the
    old plot."""
    from numgrad_files import write_whole
    try:
        write_whole(out, lambda f: fig.savefig(f, dpi=110,
                                               format=os.path.splitext(out)[1][1:] or "png"),
                    binary=True)
    except (OSError, ValueError) as e:
        sys.exit("plot_sweep_h.py: cannot write %s (%s); %s" % (
            out, e, "the previous file is unchanged" if os.path.exists(out) else "nothing written"))


if __name__ == "__main__":
    main()
