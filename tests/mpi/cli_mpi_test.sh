#!/usr/bin/env bash
# `numgrad train` under an MPI launcher, one ctest case per invocation (label mpi):
#   cli_mpi_test.sh NUMGRAD MPIEXEC NUMPROC_FLAG WORK_DIR CASE
# The weights written for 1-4 ranks are byte for byte those of one process; bad input,
# whether on every rank, on rank 0 only (the file it reads) or on one other rank only (its
# environment), ends every rank with a non-zero exit and exactly one "numgrad:" line, within
# a timeout: a rank left waiting in a collective fails the case instead of hanging it.
set -u
bin=$1 mpiexec=$2 np_flag=$3 work=$4 case_name=$5
data=$(cd "$(dirname "$0")/../.." && pwd)/data
mkdir -p "$work"
tmp=$(mktemp -d "$work/$case_name.XXXX")
trap 'rm -rf "$tmp"' EXIT
# Open MPI: more ranks than cores, root and no ptrace rights in containers (CMakeLists.txt
# here sets the same); other MPIs ignore these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

fail() {
  echo "FAIL [$case_name]: $*"
  echo "--- stdout (tail)"; tail -n 20 "$tmp/out" 2>/dev/null
  echo "--- stderr"; cat "$tmp/err" 2>/dev/null
  exit 1
}

# ranks N ARGS...: `numgrad train ARGS` on N ranks, at most 60 s.
ranks() {
  local n=$1
  shift
  timeout 60 "$mpiexec" "$np_flag" "$n" "$@" >"$tmp/out" 2>"$tmp/err"
}

# bad_input N PATTERN ARGS...: every rank ends, non-zero, with one numgrad line matching.
bad_input() {
  local n=$1 pattern=$2
  shift 2
  ranks "$n" "$@"
  local rc=$?
  [ "$rc" -ne 124 ] || fail "timed out: a rank was left waiting"
  [ "$rc" -ne 0 ] || fail "exit status 0 for bad input"
  local lines
  lines=$(grep -c '^numgrad: ' "$tmp/err")
  [ "$lines" -eq 1 ] || fail "expected one 'numgrad:' line on stderr, got $lines"
  grep '^numgrad: ' "$tmp/err" | grep -Eq -- "$pattern" || fail "message does not match /$pattern/"
  echo "ok: exit $rc, $(grep '^numgrad: ' "$tmp/err")"
}

train=(train --threads 1 --epochs 3 --lr 0.05 --momentum 0.5 --no-lstsq)
case $case_name in
  train_same_weights)
    # 4 chunks per batch of 1024 at d = 64 (4 strata, split 1/1/2 over 3 ranks), a short
    # last batch; then the diabetes CSV in batches of one chunk, where ranks 1-3 hold no
    # strata and rank 0 sends them only the rows of the loss they sum.
    for setup in \
      "--n 2600 --d 64 --batch 1024 --kernel tbb.samples.scalar.residual.f32acc64" \
      "--n 2600 --d 64 --batch 1024 --kernel scalar.analytic.f64 --seed 4" \
      "--data $data/diabetes.csv --standardize --intercept --batch 64 --kernel scalar.residual.f64"; do
      # shellcheck disable=SC2086
      "$bin" "${train[@]}" $setup --out "$tmp/one.csv" >"$tmp/out" 2>"$tmp/err" ||
        fail "single process: $setup"
      for n in 1 2 3 4; do
        # shellcheck disable=SC2086
        ranks "$n" "$bin" "${train[@]}" $setup --out "$tmp/ranks.csv" || fail "$n ranks: $setup"
        cmp -s "$tmp/one.csv" "$tmp/ranks.csv" || {
          diff "$tmp/one.csv" "$tmp/ranks.csv" | head
          fail "$n ranks wrote other weights than one process: $setup"
        }
        grep -q "MPI ranks $n " "$tmp/out" || fail "$n ranks: no 'MPI ranks $n' in the setup lines"
      done
      echo "ok: 1-4 ranks write one process's weights: $setup"
    done
    # The JSON output records the rank count.
    ranks 3 "$bin" "${train[@]}" --n 300 --d 4 --out "$tmp/w.json" || fail "3 ranks, JSON out"
    python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["ranks"] != 3)' \
      "$tmp/w.json" || fail "the JSON's ranks is not 3"
    ;;
  bad_input_one_rank)
    # Only rank 2's environment is bad, as on one node of a cluster.
    bad_input 3 "^numgrad: rank 2: .*NUMGRAD_THREADS" sh -c \
      '[ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 2 ] && export NUMGRAD_THREADS=many; exec "$@"' \
      sh "$bin" "${train[@]}" --n 500 --d 4
    ;;
  bad_csv_on_root)
    # Rank 0 reads the file; ranks 1-3 wait to be sent rows and must end too.
    bad_input 4 "bad_number.csv:[0-9]+:[0-9]+" "$bin" "${train[@]}" \
      --data "$(dirname "$0")/../data/bad_number.csv"
    ;;
  bad_option_all_ranks)
    bad_input 4 "option --decay=-1" "$bin" "${train[@]}" --n 500 --d 4 --decay -1
    ;;
  *)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
