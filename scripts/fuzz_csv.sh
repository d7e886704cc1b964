#!/usr/bin/env bash
# Fuzzes one of numgrad's CSV readers with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer for a bounded time, then says what it found.
# Usage: scripts/fuzz_csv.sh [SECONDS] [csv|weights]   (default: 60 s, csv)
#   csv      numgrad::parse_csv, the data loader          (fuzz/csv_fuzzer.cpp)
#   weights  numgrad::parse_weights, CSV and JSON weights  (fuzz/weights_fuzzer.cpp)
# Needs Debian's clang (clang++ with libFuzzer from libclang-rt-14-dev). Builds into
# build-fuzz/, grows the corpus in fuzz/corpus-run/TARGET/ from the seeds in fuzz/corpus/TARGET/,
# and leaves reproducers of any crash in build-fuzz/artifacts-TARGET/. Exit status 1 when it
# found any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
numgrad_require_packages clang libclang-rt-14-dev

seconds=${1:-60}
target=${2:-csv}
case $target in
  csv) sources=("$root/lib/data/csv.cpp") ;;
  weights) sources=("$root/lib/data/weights.cpp") ;;
  *) echo "fuzz_csv.sh: TARGET must be csv or weights, got '$target'" >&2; exit 2 ;;
esac
case $seconds in '' | *[!0-9]*) echo "fuzz_csv.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
build=${NUMGRAD_FUZZ_DIR:-$root/build-fuzz}
artifacts=$build/artifacts-$target
corpus=$root/fuzz/corpus-run/$target
mkdir -p "$artifacts" "$corpus"
cxx=$(command -v clang++-14 || command -v clang++)
fuzzer=$build/${target}_fuzzer

echo "fuzz: building $fuzzer with $cxx" >&2
"$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I "$root/lib/include" -I "$root/lib" \
  "$root/fuzz/${target}_fuzzer.cpp" "${sources[@]}" "$root/lib/data/text.cpp" \
  "$root/lib/data/data.cpp" -o "$fuzzer"

echo "fuzz: running $target for ${seconds}s" >&2
log=$build/fuzz-$target.log
set +e
# -timeout: one input taking 10 s is a bug (the readers are linear); -rss_limit_mb likewise.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/fuzz/$target.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$corpus" "$root/fuzz/corpus/$target" >"$log" 2>&1
status=$?
set -e

# What it found: libFuzzer's summary lines and any reproducers it left.
grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added' "$log" || true
shopt -s nullglob
found=("$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*)
echo "corpus: $(ls "$corpus" | wc -l) inputs in $corpus"
if [ ${#found[@]} -eq 0 ] && [ $status -eq 0 ]; then
  echo "fuzz: no crashes, leaks, timeouts or sanitizer reports in ${seconds}s"
  exit 0
fi
echo "fuzz: libFuzzer exit status $status; findings:"
grep -E 'ERROR: |runtime error:|SUMMARY:' "$log" | head -n 20 || true
for f in "${found[@]}"; do
  echo "  $f ($(stat -c %s "$f") bytes); reproduce: $fuzzer $f"
  od -c "$f" | head -n 4 | sed 's/^/    /'
done
echo "full log: $log"
exit 1
