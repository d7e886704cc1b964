#!/usr/bin/env bash
# The test command: installs missing Debian packages (as root; otherwise prints the apt-get
# line), configures a Release build in build/, builds, and runs every test with ctest.
# Extra arguments go to ctest (e.g. -R Exact).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
numgrad_require_packages "${NUMGRAD_BUILD_PACKAGES[@]}"

build=${NUMGRAD_BUILD_DIR:-$root/build}
jobs=$(nproc)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${NUMGRAD_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
