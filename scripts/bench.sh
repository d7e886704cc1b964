#!/usr/bin/env bash
# The main-job command: installs missing Debian packages (as root; otherwise prints the
# apt-get line), builds Release in build/, runs a benchmark preset with a progress line, and
# writes results/<host>-<timestamp>/ (raw JSON, console log, machine info, report.md, PNG
# plots), then prints the folder and a summary table. The folder appears whole when the run
# ends (it is written as a hidden .partial folder and renamed), or not at all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [quick|full|scaling] [numgrad_bench and Google Benchmark flags]

  quick    (default) every kernel at a few shapes, sweeps of the showcase families and the
           peers: about 1 minute on an idle 2-core machine
  full     every kernel over b x d x threads, cold, epoch and dataset-size sweeps: 15,175
           benchmarks at >= 0.1 s each, so at least 25 minutes (not timed end to end)
  scaling  the parallel families over 1, 2, 4, ... hardware threads at b*d >= 2^20, with
           their serial inner kernel and its split limit: about 20 seconds there

The first run on a machine also measures its model (read bandwidth against working set, the
cache levels at its knees, FMA peaks; about 10 s) and keeps it for later runs; --recalibrate
measures it again. Useful flags: --benchmark_filter=REGEX, --benchmark_repetitions=5
--benchmark_enable_random_interleaving=true (for scripts/compare.py), --recalibrate.
All flags: build/bench/numgrad_bench --help. Results: results/<host>-<timestamp>/.
EOF
}
for a in "$@"; do
  case "$a" in -h | --help) usage; exit 0 ;; esac
done

preset=quick
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  case "$1" in
    quick | full | scaling) preset=$1; shift ;;
    *) echo "scripts/bench.sh: '$1' is not a preset (quick, full, scaling); see --help" >&2; exit 2 ;;
  esac
fi

. "$root/scripts/deps.sh"
numgrad_require_packages "${NUMGRAD_BUILD_PACKAGES[@]}" "${NUMGRAD_BENCH_PACKAGES[@]}"
py=$(numgrad_find_python numpy matplotlib) || {
  echo "numgrad: no Python interpreter imports numpy and matplotlib; the report needs them:" >&2
  echo "  sudo apt-get install -y python3-numpy python3-matplotlib   (then /usr/bin/python3 has them)" >&2
  py=""
}

build=${NUMGRAD_BUILD_DIR:-$root/build}
jobs=$(nproc)
echo "=== building numgrad_bench (Release) in $build" >&2
cmake -S "$root" --preset release -B "$build" ${NUMGRAD_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs" --target numgrad_bench >/dev/null
bin=$build/bench/numgrad_bench

host=$(hostname -s 2>/dev/null || hostname)
name=$host-$(date +%Y%m%d-%H%M%S)
. "$root/scripts/results_folder.sh"
numgrad_results_open "$name"

# Machine information the report header reads (key: value), beside what the binary records
# in the JSON context (the machine model, noise, ISAs, library versions).
case $(uname -m) in
  aarch64 | arm64) isa_flags="(neon64 kernel sources add no flag: NEON is the aarch64 baseline)" ;;
  *) isa_flags="(per-ISA kernel sources add -msse2 | -mavx2 -mfma | -mavx512f -mavx512dq -mavx512vl -mavx512bw)" ;;
esac
{
  numgrad_machine_lines
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "compiler: $(c++ --version | head -1)"
  echo "cmake_build_type: $(grep -m1 '^CMAKE_BUILD_TYPE:' "$build/CMakeCache.txt" | cut -d= -f2)"
  echo "cxx_flags: $(grep -m1 '^CMAKE_CXX_FLAGS:' "$build/CMakeCache.txt" | cut -d= -f2-)" \
    "$(grep -m1 '^CMAKE_CXX_FLAGS_RELEASE:' "$build/CMakeCache.txt" | cut -d= -f2-) -Wall -Wextra" \
    "$isa_flags"
  for p in libbenchmark-dev libeigen3-dev libopenblas-dev libtbb-dev libxsimd-dev g++ cmake; do
    echo "pkg_$p: $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
  done
  git -C "$root" rev-parse --short HEAD 2>/dev/null | sed 's/^/git: /' || true
} >"$out/machine.txt"

echo "=== running preset '$preset' (console log: results/$name/console.txt)" >&2
rc=0
# The console table goes to console.txt; stderr (the binary's progress line, warnings and
# ERROR lines) stays on the terminal.
"$bin" --preset="$preset" --benchmark_out="$out/results.json" --benchmark_out_format=json \
  "$@" >"$out/console.txt" || rc=$?
if [ "$rc" -eq 2 ]; then
  exit 2  # a bad flag: numgrad_bench said which; nothing was measured
fi

if [ -n "$py" ] && [ -s "$out/results.json" ]; then
  "$py" "$root/scripts/report.py" "$out" || { echo "numgrad: report.py failed" >&2; rc=1; }
else
  echo "numgrad: report skipped (no results.json or no Python with numpy+matplotlib)" >&2
fi
numgrad_results_close
exit $rc
