# Sourced by test.sh and bench.sh: makes sure the Debian packages numgrad builds with are
# installed. As root it installs what is missing; otherwise it prints the exact apt-get line
# and exits non-zero. Usage: numgrad_require_packages PKG...
numgrad_require_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "numgrad: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run (another build on a shared machine) may hold dpkg's lock: wait for it.
    local wait=(-o DPkg::Lock::Timeout=600)
    apt-get "${wait[@]}" update -qq >&2 &&
      apt-get "${wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
      { echo "numgrad: apt-get install ${missing[*]} failed" >&2; exit 1; }
  else
    echo "numgrad: missing packages; run as root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

# What building and testing needs (python3: the tests run scripts/compare.py; Open MPI: the
# MPI layer, its tests under mpirun and scripts/bench-mpi.sh).
NUMGRAD_BUILD_PACKAGES=(g++ cmake make python3 libgtest-dev libbenchmark-dev libtbb-dev libxsimd-dev
  xtl-dev libeigen3-dev libopenblas-dev openmpi-bin libopenmpi-dev)

# What scripts/bench.sh needs beyond the build: numpy and matplotlib for /usr/bin/python3
# (the report and its plots; docs/design.md §5: the pyenv python3 cannot see these).
NUMGRAD_BENCH_PACKAGES=(python3-numpy python3-matplotlib)

# Prints the first interpreter that imports every module named (default: numpy matplotlib),
# preferring Debian's /usr/bin/python3; returns 1 and prints nothing when none does.
numgrad_find_python() {
  local mods=${*:-numpy matplotlib} py
  for py in /usr/bin/python3 python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c "import ${mods// /, }" >/dev/null 2>&1 && { command -v "$py"; return 0; }
  done
  return 1
}
