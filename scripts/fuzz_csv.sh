#!/usr/bin/env bash
# Fuzzes the CSV loader (numgrad::parse_csv) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer for a bounded time, then says what it found.
# Usage: scripts/fuzz_csv.sh [SECONDS]   (default 60)
# Needs Debian's clang (clang++ with libFuzzer from libclang-rt-14-dev). Builds into
# build-fuzz/, grows the corpus in fuzz/corpus-run/ from the seeds in fuzz/corpus/, and
# leaves reproducers of any crash in build-fuzz/artifacts/. Exit status 1 when it found any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
numgrad_require_packages clang libclang-rt-14-dev

seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "fuzz_csv.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
build=${NUMGRAD_FUZZ_DIR:-$root/build-fuzz}
corpus=$root/fuzz/corpus-run
mkdir -p "$build/artifacts" "$corpus"
cxx=$(command -v clang++-14 || command -v clang++)

echo "fuzz_csv: building $build/csv_fuzzer with $cxx" >&2
"$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I "$root/kernels/include" \
  "$root/fuzz/csv_fuzzer.cpp" "$root/kernels/src/csv.cpp" "$root/kernels/src/data.cpp" \
  -o "$build/csv_fuzzer"

echo "fuzz_csv: running for ${seconds}s" >&2
log=$build/fuzz.log
set +e
# -timeout: one input taking 10 s is a bug (the parser is linear); -rss_limit_mb likewise.
"$build/csv_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/fuzz/csv.dict" -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
  "$corpus" "$root/fuzz/corpus" >"$log" 2>&1
status=$?
set -e

# What it found: libFuzzer's summary lines and any reproducers it left.
grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added' "$log" || true
shopt -s nullglob
found=("$build"/artifacts/crash-* "$build"/artifacts/leak-* "$build"/artifacts/timeout-* \
  "$build"/artifacts/oom-*)
echo "corpus: $(ls "$corpus" | wc -l) inputs in $corpus"
if [ ${#found[@]} -eq 0 ] && [ $status -eq 0 ]; then
  echo "fuzz_csv: no crashes, leaks, timeouts or sanitizer reports in ${seconds}s"
  exit 0
fi
echo "fuzz_csv: libFuzzer exit status $status; findings:"
grep -E 'ERROR: |runtime error:|SUMMARY:' "$log" | head -n 20 || true
for f in "${found[@]}"; do
  echo "  $f ($(stat -c %s "$f") bytes); reproduce: $build/csv_fuzzer $f"
  od -c "$f" | head -n 4 | sed 's/^/    /'
done
echo "full log: $log"
exit 1
