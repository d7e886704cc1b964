#!/usr/bin/env bash
# The MPI benchmark command: builds numgrad_bench_mpi (Release, build/, with the MPI layer),
# runs it under mpirun for 1..MAX ranks (the distributed gradient, strong and weak scaling,
# compute and communication time apart, the deterministic join against an Allreduce), and
# writes results/<host>-<timestamp>-mpi/ as scripts/bench.sh writes its folders: results.json
# (every rank count's runs), console.txt, machine.txt, report.md and mpi_scaling.png. The
# folder appears whole when the run ends, or not at all.
#   NUMGRAD_MPI_RANKS    the largest rank count (default 4)
#   NUMGRAD_MPI_THREADS  threads per rank (default 1)
#   NUMGRAD_MPIRUN       the launcher and its flags (default: mpirun, with Open MPI's
#                        oversubscription and run-as-root allowed, for a workstation)
# Other arguments go to numgrad_bench_mpi (--n=N --d=D --reps=R --iters=I --kernel=ID).
# On a cluster, give the launcher a hostfile: NUMGRAD_MPIRUN="mpirun --hostfile hosts
# --map-by ppr:1:socket --bind-to socket" (README, "Running on a cluster").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

. "$root/scripts/deps.sh"
numgrad_require_packages "${NUMGRAD_BUILD_PACKAGES[@]}"
py=$(numgrad_find_python matplotlib) || py=$(command -v python3)

build=${NUMGRAD_BUILD_DIR:-$root/build}
echo "=== building numgrad_bench_mpi (Release) in $build" >&2
cmake -S "$root" --preset release -B "$build" ${NUMGRAD_CMAKE_ARGS:-} >/dev/null
grep -q '^NUMGRAD_WITH_MPI:INTERNAL=ON' "$build/CMakeCache.txt" 2>/dev/null ||
  grep -q 'numgrad_bench_mpi' "$build/bench/Makefile" 2>/dev/null || {
  echo "numgrad: this build has no MPI layer (CMake found no MPI, or NUMGRAD_MPI=OFF)" >&2
  exit 2
}
cmake --build "$build" -j "$(nproc)" --target numgrad_bench_mpi >/dev/null
bin=$build/bench/numgrad_bench_mpi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun_cmd=${NUMGRAD_MPIRUN:-mpirun --oversubscribe}
max=${NUMGRAD_MPI_RANKS:-4}
threads=${NUMGRAD_MPI_THREADS:-1}

host=$(hostname -s 2>/dev/null || hostname)
name=$host-$(date +%Y%m%d-%H%M%S)-mpi
. "$root/scripts/results_folder.sh"
numgrad_results_open "$name"
{
  numgrad_machine_lines
  echo "mpi: $(mpirun --version 2>/dev/null | head -1)"
  echo "launcher: $mpirun_cmd"
  echo "threads_per_rank: $threads"
  git -C "$root" rev-parse --short HEAD 2>/dev/null | sed 's/^/git: /' || true
} >"$out/machine.txt"

for ranks in $(seq 1 "$max"); do
  echo "=== $ranks rank(s) x $threads thread(s)" >&2
  # shellcheck disable=SC2086
  $mpirun_cmd -np "$ranks" "$bin" --threads="$threads" --out="$out/ranks-$ranks.json" "$@" \
    >>"$out/console.txt"
done
# One results.json, as bench.sh writes: every rank count's benchmarks, the 1-rank context.
"$py" - "$out" "$max" <<'PY'
import json, os, sys
folder, top = sys.argv[1], int(sys.argv[2])
merged = None
for r in range(1, top + 1):
    with open(os.path.join(folder, "ranks-%d.json" % r)) as f:
        part = json.load(f)
    if merged is None:
        merged = {"context": dict(part["context"], ranks="1-%d" % top), "benchmarks": []}
    merged["benchmarks"] += part["benchmarks"]
with open(os.path.join(folder, "results.json"), "w") as f:
    json.dump(merged, f, indent=1)
PY
"$py" "$root/scripts/report_mpi.py" "$out"
numgrad_results_close
