"""Reading numgrad_bench results: one place for what report.py and compare.py both need.

A result is a folder written by scripts/bench.sh (results.json inside) or a results.json itself.
Each benchmark becomes a Result with its repetitions' real and CPU times (seconds), its median
counters, its label (where numgrad_bench explains an anomaly) and its error; the JSON context
(machine model, noise verdict, versions) comes back as a dict. Standard library only.
"""
import json
import os
import statistics
from collections import defaultdict

TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
COUNTERS = ("rows/s", "bytes/s", "flop/s", "frac_bw", "frac_peak")


class Result:
    """One benchmark: its repetitions and the median of each counter."""

    def __init__(self, name, records):
        self.name = name
        its = [r for r in records if r.get("run_type", "iteration") == "iteration"]
        aggs = {r.get("aggregate_name"): r for r in records if r.get("run_type") == "aggregate"}
        base = its or [aggs.get("median") or aggs.get("mean") or records[0]]
        unit = lambda r: TO_SECONDS[r.get("time_unit", "ns")]  # noqa: E731
        self.error = next((r.get("error_message") for r in records if r.get("error_occurred")),
                          None)
        self.times = [r.get("real_time", 0) * unit(r) for r in base if not r.get("error_occurred")]
        self.cpu_times = [r.get("cpu_time", 0) * unit(r) for r in base
                          if not r.get("error_occurred")]
        # Only iterations are samples; an aggregates-only file has one summary "sample".
        self.repetitions = len(its) if its else 0
        self.label = next((r.get("label") for r in records if r.get("label")), "")
        self.counters = {}
        for c in COUNTERS:
            vals = [r[c] for r in base if c in r]
            if vals:
                self.counters[c] = statistics.median(vals)

    @property
    def seconds(self):
        return statistics.median(self.times) if self.times else 0.0

    @property
    def cpu_seconds(self):
        return statistics.median(self.cpu_times) if self.cpu_times else 0.0

    @property
    def spread(self):
        """Coefficient of variation of the repetitions' real times, or None with fewer than 2."""
        if len(self.times) < 2 or self.seconds <= 0:
            return None
        return statistics.stdev(self.times) / statistics.mean(self.times)

    @property
    def anomaly(self):
        return "anomaly" in self.label


def results_path(path):
    return os.path.join(path, "results.json") if os.path.isdir(path) else path


def load(path):
    """(context dict, {run_name: Result}) in the file's order. Raises OSError or ValueError."""
    with open(results_path(path)) as f:
        data = json.load(f)
    if not isinstance(data, dict) or "benchmarks" not in data:
        raise ValueError("%s is not Google Benchmark JSON" % results_path(path))
    groups = defaultdict(list)
    for rec in data["benchmarks"]:
        groups[rec.get("run_name", rec.get("name"))].append(rec)
    return data.get("context", {}), {name: Result(name, recs) for name, recs in groups.items()}


def noise_status(ctx):
    """('disturbed' | 'quiet' | 'unknown', reasons)"""
    flag = ctx.get("noise.disturbed")
    if flag is None:
        return "unknown", ""
    return ("disturbed" if flag == "yes" else "quiet"), ctx.get("noise.reasons", "")


class Level:
    """A cache level of the machine model (context key model.level.<name>.threads:<t>)."""

    def __init__(self, name, text):
        kv = dict(item.split("=", 1) for item in text.split())
        self.name = name
        self.bw = float(kv.get("bw", 0))
        self.knee = float(kv.get("knee", 0))
        self.first = float(kv.get("first", 0))
        self.last = float(kv.get("last", 0))


def model(ctx):
    """The machine model in a run's context: {threads: {"levels": [Level], "curve": [(bytes,
    bw)], "fma_f32": x, "fma_f64": x}}, ordered levels from the fastest; {} when absent."""
    out = {}
    for key, val in ctx.items():
        if key.startswith("model.curve.threads:"):
            t = int(key.rsplit(":", 1)[1])
            out.setdefault(t, {"levels": []})["curve"] = [
                tuple(float(x) for x in p.split(":")) for p in val.split()]
    for key, val in ctx.items():
        if key.startswith("model.level.") and ".threads:" in key:
            name, t = key[len("model.level."):].split(".threads:")
            out.setdefault(int(t), {"levels": []})["levels"].append(Level(name, val))
    for t, m in out.items():
        m["levels"].sort(key=lambda lv: -lv.bw)
        m["fma_f32"] = float(ctx.get("ceiling.fma_peak.f32.threads:%d" % t, 0))
        m["fma_f64"] = float(ctx.get("ceiling.fma_peak.f64.threads:%d" % t, 0))
    return out


def loss_sweep(ctx):
    """{d: b} of the run's loss sweep over d (context plan.loss_vs_d: batches of half the
    measured L2); results from before it was recorded swept 1 MiB batches, b = 2^18 / d."""
    text = ctx.get("plan.loss_vs_d")
    if text is None:
        return {d: (1 << 18) // d for d in (4, 8, 16, 64, 256, 1024)}
    return {int(d): int(b) for d, b in (p.split(":") for p in text.split())}


def claims(ctx):
    """[(source, level, bytes, verdict, evidence)] of the cache sizes the OS reports."""
    out = []
    for key, val in sorted(ctx.items()):
        if key.startswith("model.claim."):
            source, level = key[len("model.claim."):].split(".", 1)
            b, verdict, evidence = val.split(" ", 2)
            out.append((source, level, float(b.split("=")[1]), verdict.split("=")[1], evidence))
    return out


def format_bytes(b):
    """Binary units, two significant digits, as numgrad_bench prints them."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    u = 0
    while b >= 1024 and u < 4:
        b /= 1024.0
        u += 1
    return ("%.0f %s" if b >= 10 else "%.2g %s") % (b, units[u])
