"""What the report's parts share: one Row per benchmark (a registry kernel, a peer or a
ceiling, parsed from its name), the comparisons between rows (scalar of the same shape, best
peer) and the number formats. A fraction flagged as an anomaly by numgrad_bench prints as
"anomaly", never as a result.
"""
import re

import numgrad_results

NAME_RE = re.compile(
    r"^(?P<family>[a-z_]+)/(?P<id>[^/]+)/N:(?P<n>\d+)/b:(?P<b>\d+)/d:(?P<d>\d+)"
    r"/threads:(?P<t>\d+)")
CEIL_RE = re.compile(r"^ceiling/(?P<id>[^/]+)/(?:bytes:(?P<bytes>\d+)/)?"
                     r"(?:N:(?P<n>\d+)/d:(?P<d>\d+)/)?threads:(?P<t>\d+)")


class Row:
    """One benchmark of the run: a numgrad_results.Result with its name taken apart."""

    def __init__(self, res, kernels):
        self.res = res
        self.name, self.error, self.label = res.name, res.error, res.label
        self.seconds, self.cpu_seconds, self.spread = res.seconds, res.cpu_seconds, res.spread
        c = res.counters
        self.rows_s, self.bytes_s, self.flop_s = c.get("rows/s"), c.get("bytes/s"), c.get("flop/s")
        self.frac_bw, self.frac_peak = c.get("frac_bw"), c.get("frac_peak")
        m, cm = NAME_RE.match(self.name), CEIL_RE.match(self.name)
        self.kind = "kernel"
        if m:
            self.family, self.id = m["family"], m["id"]
            self.n, self.b, self.d, self.threads = (int(m[k]) for k in ("n", "b", "d", "t"))
        elif cm:
            self.kind, self.family, self.id = "ceiling", "ceiling", cm["id"]
            self.n = self.b = int(cm["n"] or 0)
            self.d = int(cm["d"] or 0)
            self.bytes = int(cm["bytes"] or 0)
            self.threads = int(cm["t"])
        else:
            raise ValueError("unrecognized benchmark name: " + self.name)
        parts = self.id.split(".")
        self.types = parts[-1]
        self.elem = "f64" if self.types == "f64" else "f32"
        self.acc = "f32" if self.types == "f32" else "f64"
        self.axis, self.isa = "serial", "?"
        if self.family == "peer":
            # peer/<lib>.<op>.<type>: loss peers compare with loss, the others with grad.
            self.kind, self.lib, self.op = "peer", parts[0], parts[1]
            self.algorithm, self.prefix = self.op, parts[0]
            self.cmp_family = "loss" if self.op == "loss" else "grad"
        elif self.kind == "kernel":
            self.algorithm, self.prefix = parts[-2], ".".join(parts[:-2])
            self.cmp_family = self.family
            traits = kernels.get(self.id, {})
            self.axis, self.isa = traits.get("axis", "serial"), traits.get("isa", "?")
            self.acc = traits.get("acc", self.acc)
        if self.kind != "ceiling" and self.family in ("loss", "loss_cold"):
            self.algorithm = "loss"

    @property
    def anomaly(self):
        return self.res.anomaly

    def shape(self):
        return (self.n, self.b, self.d)

    def gflops(self):
        return self.flop_s / 1e9 if self.flop_s else None


def load(folder):
    """(context, machine.txt as a dict, [Row])"""
    ctx, results = numgrad_results.load(folder)
    kernels = {k[len("kernel."):]: dict(kv.split("=", 1) for kv in v.split())
               for k, v in ctx.items() if k.startswith("kernel.")}
    rows = []
    for res in results.values():
        try:
            rows.append(Row(res, kernels))
        except ValueError as e:
            print("report.py: %s" % e)
    machine = {}
    try:
        with open(folder.rstrip("/") + "/machine.txt") as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    machine[k.strip()] = v.strip()
    except OSError:
        pass
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


# --- Formats -------------------------------------------------------------------------------

def fmt_time(s):
    if s is None or s <= 0:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= f:
            return "%.3g %s" % (s / f, unit)
    return "%.3g ns" % (s / 1e-9)


def fmt(v, scale=1.0, digits=3):
    return "-" if v is None else ("%." + str(digits) + "g") % (v / scale)


def pct(v):
    return "-" if v is None else "%.1f%%" % (100 * v)


def frac(r, key):
    """A fraction of a ceiling as a percentage; "anomaly" when numgrad_bench flagged it."""
    v = getattr(r, key)
    if v is not None and r.anomaly and key in r.label:
        return "anomaly"
    return pct(v)


def ratio(a, b):
    """a / b, or None."""
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def fmt_ratio(v):
    return "-" if v is None else "%.2fx" % v
