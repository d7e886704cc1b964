#!/usr/bin/env bash
# The main-job command: installs missing Debian packages (as root; otherwise prints the
# apt-get line), builds Release in build/, runs the benchmark preset with a progress line, and
# writes results/<host>-<timestamp>/ (raw JSON, console log, machine info, report.md, PNG
# plots), then prints the folder and a summary table.
# Usage: scripts/bench.sh [quick|full|scaling] [Google Benchmark flags, e.g. --benchmark_filter=loss/]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
numgrad_require_packages "${NUMGRAD_BUILD_PACKAGES[@]}" "${NUMGRAD_BENCH_PACKAGES[@]}"

preset=quick
if [ $# -gt 0 ] && { [ "$1" = quick ] || [ "$1" = full ] || [ "$1" = scaling ]; }; then
  preset=$1
  shift
fi

py=$(numgrad_find_python numpy matplotlib) || {
  echo "numgrad: no Python interpreter imports numpy and matplotlib; the report needs them:" >&2
  echo "  sudo apt-get install -y python3-numpy python3-matplotlib   (then /usr/bin/python3 has them)" >&2
  py=""
}

build=${NUMGRAD_BUILD_DIR:-$root/build}
jobs=$(nproc)
echo "=== building numgrad_bench (Release) in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${NUMGRAD_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs" --target numgrad_bench >/dev/null
bin=$build/bench/numgrad_bench

host=$(hostname -s 2>/dev/null || hostname)
out=$root/results/$host-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

# Machine information the report header reads (key: value), beside what the binary records
# in the JSON context (ceilings, ISAs, caches, library versions).
{
  echo "date: $(date -Is)"
  echo "host: $host"
  echo "kernel: $(uname -srm)"
  echo "cpu_model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores: $(nproc)"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "compiler: $(c++ --version | head -1)"
  echo "cmake_build_type: $(grep -m1 '^CMAKE_BUILD_TYPE:' "$build/CMakeCache.txt" | cut -d= -f2)"
  echo "cxx_flags: $(grep -m1 '^CMAKE_CXX_FLAGS:' "$build/CMakeCache.txt" | cut -d= -f2-)" \
    "$(grep -m1 '^CMAKE_CXX_FLAGS_RELEASE:' "$build/CMakeCache.txt" | cut -d= -f2-) -Wall -Wextra" \
    "(per-ISA kernel sources add -msse2 | -mavx2 -mfma | -mavx512f -mavx512dq -mavx512vl -mavx512bw)"
  for p in libbenchmark-dev libeigen3-dev libopenblas-dev libtbb-dev libxsimd-dev g++ cmake; do
    echo "pkg_$p: $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
  done
  git -C "$root" rev-parse --short HEAD 2>/dev/null | sed 's/^/git: /' || true
  lscpu | grep -E '^(L1d|L2|L3) cache' | sed 's/  */ /g' | sed 's/^/lscpu_/' || true
} >"$out/machine.txt"

echo "=== running preset '$preset' -> $out (console log: $out/console.txt)" >&2
start=$(date +%s)
rc=0
# The console table goes to console.txt; stderr (the binary's progress line and ERROR lines)
# stays on the terminal.
"$bin" --preset="$preset" --benchmark_out="$out/results.json" --benchmark_out_format=json \
  "$@" >"$out/console.txt" || rc=$?
echo "=== benchmarks took $(($(date +%s) - start)) s (exit status $rc)" >&2

if [ -n "$py" ] && [ -s "$out/results.json" ]; then
  "$py" "$root/scripts/report.py" "$out" || { echo "numgrad: report.py failed" >&2; rc=1; }
else
  echo "numgrad: report skipped (no results.json or no Python with numpy+matplotlib)" >&2
fi
echo
echo "results: $out"
exit $rc
