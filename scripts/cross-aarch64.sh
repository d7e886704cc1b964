#!/usr/bin/env bash
# The aarch64 check on an x86-64 Debian machine: installs the cross compiler, qemu-user and the
# arm64 builds of the dependencies (as root; otherwise prints the exact commands), cross-builds
# the library, the tool and the tests with the cross-aarch64 preset (cmake/toolchain-aarch64.cmake),
# runs every test under qemu-aarch64, then `numgrad info` and `numgrad verify` under qemu.
# Extra arguments go to ctest (e.g. -L simd). README.md, "Running on ARM", says what this
# covers and what only real hardware can tell.
#   NUMGRAD_BUILD_DIR   the build folder (default build-cross-aarch64/)
# Not built here: numgrad_bench (its numbers under an emulator mean nothing) and so the bench
# tests; not registered: the package tests (CMake packaging, the same on every architecture;
# the native run has them). The GoogleTest suites run the parallel kernels at one thread
# (NUMGRAD_TEST_MAX_THREADS, tests/CMakeLists.txt); `numgrad verify` checks 1 to 8 threads.
# ccache, installed when run as root and used when present, makes a rebuild of unchanged sources
# cheap in CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
start=$SECONDS
phase() { echo "=== cross-aarch64: $* ($((SECONDS - start)) s)"; }

# Debian multiarch supplies the arm64 libraries; libc6:arm64 is named because the emulator runs
# programs with its loader (the toolchain file says why not the cross toolchain's).
packages=(g++-aarch64-linux-gnu qemu-user cmake make libc6:arm64 libtbb-dev:arm64
  libgtest-dev:arm64 libxsimd-dev:arm64 xtl-dev)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "numgrad: the arm64 architecture is not enabled; run as root:" >&2
    echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update &&" \
      "sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  echo "numgrad: enabling the arm64 architecture (dpkg --add-architecture arm64)" >&2
  dpkg --add-architecture arm64
fi
numgrad_require_packages "${packages[@]}"
if [ "$(id -u)" -eq 0 ]; then numgrad_require_packages ccache; fi

build=${NUMGRAD_BUILD_DIR:-$root/build-cross-aarch64}
jobs=$(nproc)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
phase "configure ($build${launcher:+, ccache})"
cmake -S "$root" --preset cross-aarch64 -B "$build" "${launcher[@]}" >/dev/null
phase "build (library, tool, tests) with -j $jobs"
cmake --build "$build" -j "$jobs"

# Each GoogleTest binary is one ctest test (the preset's NUMGRAD_TEST_PER_CASE=OFF: qemu's
# start-up per case would cost more than the cases), so its cases run in full in one process.
phase "ctest under qemu-aarch64"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"
echo "not run under emulation: the package tests (CMake packaging, identical on every" \
  "architecture; the native suite runs them) and the bench tests (no numgrad_bench in this" \
  "build: timings under an emulator say nothing about ARM hardware)"

tool=("$build/tests/numgrad-emulated")
phase "numgrad info under qemu"
info=$("${tool[@]}" info)
printf '%s\n' "$info" | sed -n '1,3p'
printf '%s\n' "$info" | grep -q '^architecture: aarch64$' || {
  echo "numgrad info does not name aarch64" >&2
  exit 1
}
neon=$(printf '%s\n' "$info" | grep -Ec '^simd\.neon64\.[a-z]+\.[a-z0-9]+ .* yes +yes *$' || true)
[ "$neon" -eq 9 ] || {
  echo "numgrad info lists $neon supported simd.neon64 kernels, expected 9" >&2
  exit 1
}
printf '%s\n' "$info" | tail -1
# Every registered kernel on the default problem, as cli.verify_default ran it above but with
# one run per thread count in the determinism check (the summary goes to this log).
phase "numgrad verify under qemu (every registered kernel)"
"${tool[@]}" verify --repeats 1 | tail -3
phase "passed"
