#!/usr/bin/env bash
# The test command: installs missing Debian packages (as root; otherwise prints the apt-get
# line), configures a build from a preset of CMakePresets.json, builds, and runs every test
# with ctest. Extra arguments go to ctest (e.g. -L simd, -R Exact).
#   NUMGRAD_PRESET      the configure preset: release (default, in build/) or sanitize
#                       (ASan + UBSan, in build-sanitize/)
#   NUMGRAD_BUILD_DIR   another build folder for it
#   NUMGRAD_CMAKE_ARGS  more cmake arguments (e.g. -DNUMGRAD_BUILD_PEERS=OFF)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
numgrad_require_packages "${NUMGRAD_BUILD_PACKAGES[@]}"

preset=${NUMGRAD_PRESET:-release}
# The presets' folders: build/ for release, build-<preset>/ for the others.
[ "$preset" = release ] && folder=build || folder=build-$preset
build=${NUMGRAD_BUILD_DIR:-$root/$folder}
jobs=$(nproc)
cmake -S "$root" --preset "$preset" -B "$build" ${NUMGRAD_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"
