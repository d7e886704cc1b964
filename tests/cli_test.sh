#!/usr/bin/env bash
# End-to-end tests of the `numgrad` tool, one ctest case per invocation:
#   cli_test.sh NUMGRAD_BINARY DATA_DIR CASE
# Each case checks the exit status and a message. Bad input must exit 2 with exactly one line
# on stderr that names the problem (never a crash, never a stack of messages).
set -u
bin=$1
data=$2
case_name=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL [$case_name]: $*"
  echo "--- stdout (tail)"; tail -n 30 "$tmp/out"
  echo "--- stderr"; cat "$tmp/err"
  exit 1
}

# expect RC REGEX ARGS...: runs the tool; checks the exit status; for RC 2 checks that stderr
# is one line starting "numgrad: " and matching REGEX, otherwise that stdout matches REGEX.
expect() {
  local rc=$1 regex=$2
  shift 2
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$rc" ] || fail "exit status $got, expected $rc (numgrad $*)"
  if [ "$rc" -eq 2 ]; then
    local lines
    lines=$(grep -c '' "$tmp/err")
    [ "$lines" -eq 1 ] || fail "expected one line on stderr, got $lines"
    grep -q '^numgrad: ' "$tmp/err" || fail "stderr does not start with 'numgrad: '"
    grep -Eq -- "$regex" "$tmp/err" || fail "stderr does not match /$regex/"
  else
    grep -Eq -- "$regex" "$tmp/out" || fail "stdout does not match /$regex/"
  fi
}

# --- Machine-readable output on stdout (--json -, --csv -) -------------------------------------
# These read the documents back with python3; without one they are skipped (exit 77).
need_python() {
  command -v python3 >/dev/null || { echo "skip [$case_name]: needs python3"; exit 77; }
}

# field FILE EXPR: the Python expression EXPR over the JSON document d that FILE holds.
field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$1" "$2" 2>>"$tmp/err" || fail "$1: not JSON, or no $2"
}

# json_stdout RC SCHEMA TEXT ARGS...: `numgrad ARGS` (--json - among them) exits RC; its stdout
# is one JSON document and nothing else (python3 -m json.tool reads it), of SCHEMA, naming
# this build's version; the human report, matching TEXT, is on stderr. Then the pipe a user
# writes, `numgrad ARGS | python3 -m json.tool`, keeps the exit status and parses.
json_stdout() {
  local rc=$1 schema=$2 text=$3
  shift 3
  need_python
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$rc" ] || fail "exit status $got, expected $rc (numgrad $*)"
  python3 -m json.tool "$tmp/out" >/dev/null 2>&1 || fail "stdout is not just a JSON document"
  [ "$(field "$tmp/out" 'd["schema"]')" = "$schema" ] || fail "\"schema\" is not $schema"
  local version
  version=$("$bin" --version | sed 's/^numgrad //')
  [ "$(field "$tmp/out" 'd["numgrad"]["version"] + " (" + d["numgrad"]["git"] + ")"')" = "$version" ] ||
    fail "\"numgrad\" does not name version $version"
  grep -Eq -- "$text" "$tmp/err" || fail "the report (/$text/) is not on stderr"
  "$bin" "$@" 2>/dev/null | python3 -m json.tool >/dev/null 2>&1
  local status=("${PIPESTATUS[@]}")
  [ "${status[0]}" -eq "$rc" ] && [ "${status[1]}" -eq 0 ] ||
    fail "numgrad $* | python3 -m json.tool: exit statuses ${status[*]}, expected $rc 0"
}

case $case_name in
  # --- Commands that work --------------------------------------------------------------------
  help) expect 0 'verify' --help && expect 0 'kernels' verify --help && expect 0 'kmin' sweep-h --help ;;
  version)
    expect 0 '^numgrad [0-9]+\.[0-9]+\.[0-9]+ \(.+\)$' --version
    [ "$(grep -c '' "$tmp/out")" -eq 1 ] || fail "expected one line on stdout"
    ;;
  info)
    expect 0 'scalar\.residual\.f32 ' info
    grep -Eq '^architecture: (x86_64|aarch64)$' "$tmp/out" || fail "no architecture line"
    grep -Eq '^[0-9]+ kernels, [0-9]+ supported here' "$tmp/out" || fail "no kernel count line"
    expect 0 'supported' info --json "$tmp/info.json"
    grep -q '"id": "scalar.blackbox.f64"' "$tmp/info.json" || fail "info JSON lacks a kernel"
    grep -Eq '"architecture": "(x86_64|aarch64)"' "$tmp/info.json" || fail "info JSON lacks the architecture"
    ;;
  verify_default)
    # The issue's acceptance check: every kernel passes on the default problem.
    expect 0 '([0-9]+) of \1 kernels pass' verify --json "$tmp/v.json"
    grep -q '"pass": true' "$tmp/v.json" || fail "JSON does not record the pass"
    ;;
  verify_small)
    expect 0 '([0-9]+) of \1 kernels pass' verify --n 100 --d 9 --b 33 --seed 7
    # The data options of every command: noise and an intercept on synthetic data too.
    expect 0 '([0-9]+) of \1 kernels pass' verify --n 100 --d 9 --noise 0.5 --intercept --kernels '^scalar\.'
    grep -q '^problem: synthetic normal n=100 d=9 b=100 noise=0\.5 seed=1 +intercept$' "$tmp/out" || fail "problem line"
    ;;
  verify_lognormal) expect 0 '([0-9]+) of \1 kernels pass' verify --dist lognormal --n 1024 --d 32 ;;
  verify_csv) expect 0 '([0-9]+) of \1 kernels pass' verify --data "$data/small.csv" --weights "$data/small_weights.csv" ;;
  verify_zero_column)
    # An all-zero feature column: its exact gradient and every bound on it are exactly 0, and
    # a right kernel gets exactly 0 (0 over 0 passes, it is not NaN).
    expect 0 '([0-9]+) of \1 kernels pass' verify --data "$data/zero_column.csv"
    grep -q 'non-finite' "$tmp/out" && fail "a zero bound was reported as non-finite"
    ;;
  verify_exact_fit)
    # y = 2 a - b with those weights: every residual, the loss and its bound are exactly 0.
    expect 0 '([0-9]+) of \1 kernels pass' verify --data "$data/exact_fit.csv" --weights "$data/exact_fit_weights.csv" --json "$tmp/v.json"
    grep -q '"loss_ratio": 0,' "$tmp/v.json" || fail "the loss ratio of an exact fit is not 0"
    ;;
  verify_relative_fails)
    # The generic step cbrt(eps) max(1,|w_j|) on float data far from the fit (residuals large
    # against the column norms) loses accuracy the data-aware step keeps: f32 kernels fail the
    # cd/tol check (exit 1) while the same problem with --step auto passes.
    expect 1 'FAIL\(cd/tol\)' verify --dtype f32 --step relative
    grep -Eq '^scalar\.residual\.f32 .*FAIL' "$tmp/out" || fail "scalar.residual.f32 should fail"
    grep -q 'Rerun just them with:' "$tmp/out" || fail "no rerun command printed"
    # The printed command reruns exactly the failing rows and fails again.
    rerun=$(grep -A1 'Rerun just them with:' "$tmp/out" | tail -n 1 | sed 's/^ *numgrad //')
    eval "set -- $rerun"
    expect 1 'FAIL' "$@"
    grep -q ' PASS$' "$tmp/out" && fail "the rerun command selected passing rows"
    expect 0 '([0-9]+) of \1 kernels pass' verify --dtype f32 --step auto
    ;;
  verify_fixed_step_fails) expect 1 'FAIL\(cd/tol\)' verify --dtype f32 --step fixed:1e-5 --kernels '^scalar\.' ;;
  verify_nearfit_relative)
    # Near the least-squares fit the residuals are small, the data-aware step is itself small
    # (~1e-2), and the generic rule is close to it: both pass. Recorded so the docs' claim
    # stays true.
    expect 0 '([0-9]+) of \1 kernels pass' verify --dist nearfit --dtype f32 --step relative
    expect 0 '([0-9]+) of \1 kernels pass' verify --dist nearfit --dtype f32 --step auto
    ;;
  grad)
    # small.csv with w = (1, 2): residuals (0,0,0,-2,0,0), L = 4/6, gradient (2/6) X^T r =
    # (-2, -2/3), exact in every kernel.
    expect 0 'loss: 0\.666666666666666' grad --data "$data/small.csv" --weights "$data/small_weights.csv" --kernel scalar.residual.f64
    grep -Eq '^ *0 +x1 +1 .* -2 +-2 +0$' "$tmp/out" || fail "gradient row of x1 is not -2"
    expect 0 'loss' grad --data "$data/small.csv" --weights "$data/three_weights.csv" --kernel simd.auto.blackbox.f32 --intercept --json "$tmp/g.json"
    grep -q '"analytic_gradient": \[' "$tmp/g.json" || fail "grad JSON lacks the analytic gradient"
    expect 0 'loss' grad --data "$data/small.csv" --kernel scalar.blackbox.f32 --target 0 --step relative
    ;;
  grad_reads_train_weights)
    # The 'feature,weight' CSV that `numgrad train --out W.csv` writes, intercept last.
    expect 0 'loss: 0\.666666666666666' grad --data "$data/small.csv" --intercept --weights "$data/small_weights_named.csv" --kernel scalar.blackbox.f64
    # One loader: the same synthetic options are the same data in train and grad, so grad's
    # loss at w = 0 over every row is train's epoch-0 loss.
    printf '0\n0\n0\n0\n' >"$tmp/zeros.csv"
    expect 0 'synthetic lognormal, sigma 1\.5, noise 0\.3, seed 4: 300 rows' train --dist lognormal --sigma 1.5 --n 300 --d 3 --noise 0.3 --seed 4 --intercept --epochs 1 --no-lstsq
    epoch0=$(awk '$1 == 0 { print $2 }' "$tmp/out")
    expect 0 '^data: synthetic lognormal, sigma 1\.5, noise 0\.3, seed 4 \(300 rows, d=4,' grad --dist lognormal --sigma 1.5 --n 300 --d 3 --noise 0.3 --seed 4 --intercept --b 300 --weights "$tmp/zeros.csv" --kernel scalar.residual.f64
    loss=$(sed -n 's/^loss: //p' "$tmp/out")
    [ "$(printf '%.8g' "$loss")" = "$epoch0" ] || fail "grad's loss $loss at w = 0 is not train's epoch-0 loss $epoch0"
    ;;
  sweep_h)
    expect 0 'predicted central optimum' sweep-h --kernel scalar.residual.f32 --n 512 --d 16 --csv "$tmp/s.csv"
    grep -q '^k,h,central_abs,central_rel,forward_abs,forward_rel,central_bound$' "$tmp/s.csv" || fail "CSV header"
    grep -q '^# predicted_central=' "$tmp/s.csv" || fail "CSV lacks the prediction"
    ;;
  # --- "-": only the document on stdout, the report on stderr; JSON fields as the report's ---
  json_stdout_info)
    json_stdout 0 numgrad.info/1 '[0-9]+ kernels, [0-9]+ supported here' info --json -
    [ "$(field "$tmp/out" 'd["default_threads"]')" = "$(sed -n 's/^default threads: \([0-9]*\) (hardware)$/\1/p' "$tmp/err")" ] || fail "default_threads is not the report's"
    [ "$(field "$tmp/out" 'd["default_threads_from"]')" = hardware ] || fail "default_threads_from is not hardware"
    NUMGRAD_THREADS=3 json_stdout 0 numgrad.info/1 '^default threads: 3 \(NUMGRAD_THREADS\)$' info --json -
    [ "$(field "$tmp/out" 'd["default_threads"], d["default_threads_from"]')" = "(3, 'NUMGRAD_THREADS')" ] || fail "NUMGRAD_THREADS=3 is not in the JSON"
    [ "$(field "$tmp/out" 'd["supported_count"] == sum(k["supported"] for k in d["kernels"])')" = True ] || fail "supported_count"
    ;;
  json_stdout_verify)
    json_stdout 0 numgrad.verify/1 '([0-9]+) of \1 kernels pass' verify --n 100 --d 9 --kernels '^(scalar|tbb\.weights\.scalar)\.' --json -
    [ "$(field "$tmp/out" 'd["pass"], len(d["kernels"]), d["determinism"]["kernels"][0]["runs"]')" = "(True, 18, 15)" ] || fail "pass, rows or determinism runs"
    steps=$(sed -n 's/^f32 problem: .*steps h_j in \[\(.*\)\]$/\1/p' "$tmp/err")
    [ -n "$steps" ] && [ "$(field "$tmp/out" '"%.3g, %.3g" % (d["problems"][0]["step_min"], d["problems"][0]["step_max"])')" = "$steps" ] || fail "the f32 problem's steps are not the report's [$steps]"
    ;;
  verify_fail_json_stdout)
    # A failing check still exits 1, with the whole document on stdout and the rerun advice
    # on stderr.
    json_stdout 1 numgrad.verify/1 'Rerun just them with:' verify --dtype f32 --step relative --kernels '^scalar\.residual\.f32$' --json -
    [ "$(field "$tmp/out" 'd["pass"], d["kernels"][0]["result"]')" = "(False, 'FAIL(cd/tol)')" ] || fail "the JSON does not record the failure"
    grep -Eq '^scalar\.residual\.f32 .* FAIL\(cd/tol\)$' "$tmp/err" || fail "the report's row"
    ;;
  verify_threads_resolved)
    # "threads" is the count the kernels ran with, as the report says; never 0 for "default".
    for run in default NUMGRAD_THREADS=3 --threads=1; do
      case $run in
        default) json_stdout 0 numgrad.verify/1 'threads: ' verify --n 64 --d 4 --kernels '^scalar\.residual\.f64$' --json - ;;
        NUMGRAD_THREADS=3) NUMGRAD_THREADS=3 json_stdout 0 numgrad.verify/1 'threads: 3$' verify --n 64 --d 4 --kernels '^scalar\.residual\.f64$' --json - ;;
        *) json_stdout 0 numgrad.verify/1 'threads: 1$' verify --n 64 --d 4 --kernels '^scalar\.residual\.f64$' "$run" --json - ;;
      esac
      text=$(sed -n 's/^step: .*, threads: \([0-9]*\)$/\1/p' "$tmp/err")
      json=$(field "$tmp/out" 'd["threads"]')
      [ -n "$text" ] && [ "$json" = "$text" ] || fail "$run: JSON threads $json, the report says '$text'"
      [ "$json" -ge 1 ] || fail "$run: JSON threads $json"
    done
    [ "$json" = 1 ] || fail "--threads=1 gave $json"
    ;;
  json_stdout_grad)
    # small.csv with w = (1, 2): L = 4/6 and gradient (-2, -2/3), as the report prints.
    json_stdout 0 numgrad.grad/1 '^loss: 0\.666666666666666' grad --data "$data/small.csv" --weights "$data/small_weights.csv" --kernel scalar.residual.f64 --json -
    [ "$(field "$tmp/out" 'd["target"], d["rows"], d["threads"], d["gradient"][0], d["features"]')" = "('y', 6, 1, -2, ['x1', 'x2'])" ] || fail "target, rows, threads, gradient or features"
    grep -q "(6 rows, d=2, target 'y')" "$tmp/err" && grep -q 'threads: 1$' "$tmp/err" || fail "the report's data and kernel lines"
    ;;
  json_stdout_sweep_h)
    json_stdout 0 numgrad.sweep-h/1 'predicted central optimum' sweep-h --kernel scalar.residual.f32 --n 256 --d 8 --kmin -4 --kmax 4 --json -
    [ "$(field "$tmp/out" 'len(d["rows"]), d["rows"][0]["k"], d["rows"][0]["h"]')" = "(9, -4, 0.0625)" ] || fail "rows"
    k=$(sed -n 's/^predicted central optimum .*: h = 2^\(-*[0-9]*\) .*/\1/p' "$tmp/err")
    [ "$(field "$tmp/out" 'd["predicted_central"] == 2.0 ** '"$k")" = True ] || fail "predicted_central is not the report's 2^$k"
    ;;
  csv_stdout_sweep_h)
    expect 0 '^k,h,central_abs,central_rel,forward_abs,forward_rel,central_bound$' sweep-h --kernel scalar.residual.f32 --n 256 --d 8 --kmin -4 --kmax 4 --csv -
    grep -q 'predicted central optimum' "$tmp/err" || fail "the report is not on stderr"
    [ "$(grep -vc '^#' "$tmp/out")" -eq 10 ] || fail "expected the header and 9 rows"
    grep -v '^#' "$tmp/out" | tail -n +2 | grep -Evq '^-?[0-9]+(,[^,]+){6}$' && fail "a line on stdout is not a CSV row"
    grep -q '^# numgrad=[0-9]' "$tmp/out" || fail "the CSV does not name the version"
    ;;
  bad_two_stdout)
    expect 2 'options --csv and --json both write to stdout \(-\); send one of them to a file' sweep-h --kernel scalar.residual.f64 --csv - --json -
    [ -s "$tmp/out" ] && fail "sweep-h printed before refusing"
    # One of them "-", the other a file: both written.
    expect 0 '^k,h,' sweep-h --kernel scalar.residual.f64 --n 64 --d 4 --kmin -2 --kmax 2 --csv - --json "$tmp/s.json"
    grep -q '"schema": "numgrad.sweep-h/1"' "$tmp/s.json" || fail "--json FILE beside --csv - was not written"
    ;;
  train_json_fields)
    # The JSON of train --out holds what the report says: threads, epochs, batch, the losses.
    need_python
    expect 0 'weights written' train --n 300 --d 3 --kernel tbb.weights.scalar.residual.f64 --threads 2 --epochs 4 --batch 50 --out "$tmp/W.json"
    [ "$(field "$tmp/W.json" 'd["schema"], d["threads"], d["epochs"], d["batch"], d["rows"], len(d["history"])')" = "('numgrad.train/1', 2, 4, 50, 300, 4)" ] || fail "schema, threads, epochs, batch, rows or history"
    grep -q '), threads 2$' "$tmp/out" || fail "the report's threads"
    [ "$(field "$tmp/W.json" '"%.8g" % d["final_loss"]')" = "$(sed -n 's/^initial loss .*, final loss \([^ ]*\) .*/\1/p' "$tmp/out")" ] || fail "final_loss is not the report's"
    ;;
  # --- Bad input: exit 2, one line naming the problem ----------------------------------------
  bad_no_command) expect 2 'no command given' ;;
  bad_command) expect 2 "unknown command 'frobnicate'; commands are info, verify" frobnicate ;;
  bad_option) expect 2 "unknown option '--bogus' for 'numgrad verify'" verify --bogus 1 ;;
  bad_positional) expect 2 "unexpected argument 'extra'" info extra ;;
  bad_missing_value) expect 2 'option --n needs a value' verify --n ;;
  bad_missing_value_next_option) expect 2 'option --kernels needs a value' verify --kernels --json x ;;
  bad_number) expect 2 "option --n: 'abc' is not a whole number" verify --n abc ;;
  bad_negative) expect 2 "option --d: '-3' is not a whole number >= 1" verify --d -3 ;;
  bad_real)
    expect 2 "option --perturb: '1e-3x' is not a finite number" verify --dist nearfit --perturb 1e-3x
    expect 2 "option --noise: '1e-3x' is not a finite number" train --n 10 --noise 1e-3x
    expect 2 "option --sigma must be >= 0" grad --n 10 --dist lognormal --sigma -1 --kernel scalar.residual.f64
    ;;
  bad_flag_value) expect 2 'option --intercept is a flag' grad --intercept=yes ;;
  bad_twice) expect 2 'option --n given twice' verify --n 5 --n 6 ;;
  bad_b_gt_n)
    expect 2 'option --b=20 exceeds --n=10' verify --n 10 --b 20
    expect 2 'option --b=7 exceeds the 6 rows of .*small\.csv' grad --data "$data/small.csv" --b 7 --kernel scalar.residual.f64
    ;;
  bad_step) expect 2 "fixed:-1' is not one of fixed:H" verify --step fixed:-1 ;;
  bad_dist) expect 2 "option --dist: 'uniform' is not one of" verify --dist uniform ;;
  bad_dtype) expect 2 "option --dtype: 'f16'" verify --dtype f16 ;;
  bad_regex) expect 2 'not a valid regular expression' verify --kernels '(' ;;
  bad_regex_none) expect 2 'no supported kernel matches' verify --kernels '^nothing$' ;;
  bad_kernel) expect 2 "unknown id 'nope'; valid ids: scalar\.blackbox\.f32, " grad --data "$data/small.csv" --kernel nope ;;
  bad_grad_no_data) expect 2 'grad needs --data' grad --kernel scalar.residual.f32 ;;
  bad_missing_file) expect 2 'no_such_file\.csv:1:1: cannot open' grad --data "$data/no_such_file.csv" --kernel scalar.residual.f64 ;;
  bad_ragged) expect 2 'bad_ragged\.csv:3:3: expected 3 fields' grad --data "$data/bad_ragged.csv" --kernel scalar.residual.f64 ;;
  bad_not_number) expect 2 'bad_number\.csv:4:2: not a number: "abc"' verify --data "$data/bad_number.csv" ;;
  bad_nonfinite) expect 2 "nonfinite\.csv: data row 2, feature 'x2' is not finite" grad --data "$data/nonfinite.csv" --kernel scalar.residual.f32 ;;
  bad_target) expect 2 "target 'nosuch' is neither a column name" grad --data "$data/small.csv" --target nosuch --kernel scalar.residual.f64 ;;
  bad_weight_count) expect 2 "three_weights\.csv: 3 weights, but the data has d=2 features \(x1, x2\)" grad --data "$data/small.csv" --weights "$data/three_weights.csv" --kernel scalar.residual.f64 ;;
  bad_weight_value) expect 2 "bad_weights\.csv:2:1: 'two' is not a number" grad --data "$data/small.csv" --weights "$data/bad_weights.csv" --kernel scalar.residual.f64 ;;
  bad_weight_file) expect 2 'nope\.csv:1:1: cannot open: No such file' grad --data "$data/small.csv" --weights "$data/nope.csv" --kernel scalar.residual.f64 ;;
  bad_synthetic_with_data)
    # One vocabulary: every command refuses a synthetic option beside --data, and --target
    # without it; train's --seed also seeds the shuffle, so it goes with --data there.
    expect 2 'option --n describes synthetic data' verify --data "$data/small.csv" --n 5
    expect 2 'option --noise describes synthetic data' train --data "$data/small.csv" --noise 0.5
    expect 2 'option --seed describes synthetic data' grad --data "$data/small.csv" --kernel scalar.residual.f64 --seed 2
    expect 2 'option --perturb describes synthetic data' sweep-h --data "$data/small.csv" --kernel scalar.residual.f64 --perturb 0.1
    expect 2 'option --target applies only with --data' train --n 10 --target y
    expect 0 'ran all 1 epochs' train --data "$data/small.csv" --seed 3 --epochs 1 --no-lstsq
    ;;
  bad_sweep_analytic) expect 2 'computes the analytic gradient' sweep-h --kernel scalar.analytic.f64 ;;
  bad_sweep_range) expect 2 'kmin must not exceed' sweep-h --kernel scalar.residual.f64 --kmin 3 --kmax 1 ;;
  bad_threads_verify) expect 2 'option --threads=5000: must be a whole number from 0 to 1024' verify --threads 5000 ;;
  bad_threads_grad)
    # 2^32 + 1 would wrap to 1 if it were narrowed to int before the range check.
    expect 2 'option --threads=4294967297: must be a whole number from 0 to' grad --data "$data/small.csv" --kernel scalar.residual.f64 --threads 4294967297
    expect 2 "option --threads=-1: must be" grad --data "$data/small.csv" --kernel scalar.residual.f64 --threads -1
    expect 2 "option --threads=99999999999999999999999: must be" sweep-h --kernel scalar.residual.f64 --threads 99999999999999999999999
    ;;
  bad_sweep_huge_k)
    expect 2 'option --kmin=4294967297: must be from -1000 to 100' sweep-h --kernel scalar.residual.f64 --kmin 4294967297
    expect 2 'option --kmax=-4294967297: must be from -1000 to 100' sweep-h --kernel scalar.residual.f64 --kmax -4294967297
    ;;
  bad_json_path) expect 2 "option --json: '/nonexistent-dir/x.json' cannot be created" info --json /nonexistent-dir/x.json ;;
  bad_isa_env) NUMGRAD_ISA=bogus expect 2 "NUMGRAD_ISA='bogus'" info ;;
  # Rejected before any work, though info never reaches a kernel that could prefetch.
  bad_prefetch_env) NUMGRAD_PREFETCH=yes expect 2 "NUMGRAD_PREFETCH='yes' is not 0 or 1" info ;;
  bad_isa_capped)
    # A kernel above the NUMGRAD_ISA cap refuses to run. x86-64 has ISAs below others; aarch64
    # has one (neon64), so there is no kernel a cap could take away.
    arch=$("$bin" info | sed -n 's/^architecture: //p')
    if [ "$arch" != x86_64 ]; then
      echo "skipped: $arch has a single instruction set, so no cap can exclude a kernel"
      exit 77
    fi
    NUMGRAD_ISA=sse2 expect 2 "kernel 'autovec\.avx2\.residual\.f32' needs avx2" grad --data "$data/small.csv" --kernel autovec.avx2.residual.f32
    ;;
  # --- Issue 12: no silent wrong numbers, no lost output -----------------------------------
  weights_names_reordered)
    # Case 2: names are matched to the features, in any order (x2 first here).
    printf 'feature,weight\nx2,2\nx1,1\n' >"$tmp/w.csv"
    expect 0 'loss: 0\.666666666666666' grad --data "$data/small.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    grep -Eq '^ *0 +x1 +1 ' "$tmp/out" || fail "x1 did not get its named weight"
    ;;
  bad_weights_unknown_name)
    printf 'x1,1\nx2,2\nfoo,3\n' >"$tmp/w.csv"
    expect 2 "w\.csv:3:1: 'foo' is not a feature of the data; its features are x1, x2" grad --data "$data/small.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    printf 'x1,1\n' >"$tmp/w.csv"
    expect 2 'w\.csv: no weight for 1 of the d=2 features: x2' grad --data "$data/small.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    ;;
  bad_weights_nan_first_line)
    # Case 3: a first line of nan, inf or 1e400 is a value, not a header to drop.
    for first in nan inf 1e400; do
      printf '%s\n1\n2\n' "$first" >"$tmp/w.csv"
      expect 2 "w\.csv:1:1: '$first' is (not a finite number|out of range for f64)" grad --data "$data/small.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    done
    ;;
  bad_data_not_text)
    # Case 6: /dev/zero and a 2 GB sparse file fail at once, at the first NUL byte.
    SECONDS=0
    expect 2 '/dev/zero:1:1: NUL byte: this is not a text file' train --data /dev/zero
    truncate -s 2G "$tmp/big.csv"
    expect 2 'big\.csv:1:1: NUL byte' grad --data "$tmp/big.csv" --kernel scalar.residual.f64
    [ $SECONDS -lt 10 ] || fail "took ${SECONDS}s to refuse"
    ;;
  numbers_one_policy)
    # Case 7: the same literals mean the same thing in data and weights, in f32 and f64:
    # underflow is the zero (or subnormal) the type holds, hex is not a number anywhere.
    printf 'x1,x2,y\n1e-400,1,2\n1e-50,2,4\n' >"$tmp/tiny.csv"
    printf '1e-400\n2\n' >"$tmp/w.csv"
    expect 0 'loss: 0$' grad --data "$tmp/tiny.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    expect 0 'loss: 0$' grad --data "$tmp/tiny.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f32
    printf '0x10\n1\n' >"$tmp/w.csv"
    expect 2 "w\.csv:1:1: '0x10' is not a number" grad --data "$data/small.csv" --weights "$tmp/w.csv" --kernel scalar.residual.f64
    printf 'x1,x2,y\n0x1p3,1,2\n' >"$tmp/hex.csv"
    expect 2 'hex\.csv:2:1: not a number: "0x1p3"' grad --data "$tmp/hex.csv" --kernel scalar.residual.f64
    printf 'x1,x2,y\n1e39,1,2\n' >"$tmp/big.csv"
    expect 2 'big\.csv:2:1: "1e39" is out of range for f32' grad --data "$tmp/big.csv" --kernel scalar.residual.f32
    ;;
  bad_weights_dir) expect 2 "$data:1:1: cannot open: is a directory" grad --data "$data/small.csv" --weights "$data" --kernel scalar.residual.f64 ;;
  weights_json_roundtrip)
    # The JSON and the CSV that train --out writes read back to the same weights, and give
    # the loss the trainer reported (the weights are in original units, the intercept named).
    diabetes=$data/../../data/diabetes.csv
    for ext in json csv; do
      expect 0 'weights written' train --data "$diabetes" --standardize --intercept --epochs 5 --lr 0.05 --no-lstsq --out "$tmp/W.$ext"
      reported=$(sed -n 's/^initial loss .*, final loss \([^ ]*\) .*/\1/p' "$tmp/out")
      expect 0 'loss' grad --data "$diabetes" --intercept --weights "$tmp/W.$ext" --kernel scalar.residual.f64
      mv "$tmp/out" "$tmp/grad.$ext"
    done
    cmp -s "$tmp/grad.json" "$tmp/grad.csv" || fail "JSON and CSV weights differ"
    loss=$(sed -n 's/^loss: //p' "$tmp/grad.json")
    [ "$(printf '%.8g' "$loss")" = "$reported" ] || fail "grad's loss $loss is not the reported $reported"
    ;;
  write_full_disk_keeps_old)
    # Case 1: a write that fails (a full filesystem) leaves the previous file as it was, says
    # so, and leaves no temporary file behind. Needs root for the small tmpfs.
    if [ "$(id -u)" -ne 0 ]; then echo "skip [$case_name]: needs root to mount a tmpfs"; exit 77; fi
    mkdir "$tmp/fs"
    mount -t tmpfs -o size=64k tmpfs "$tmp/fs" 2>"$tmp/err" || { echo "skip [$case_name]: mount failed: $(cat "$tmp/err")"; exit 77; }
    trap 'umount "$tmp/fs"; rm -rf "$tmp"' EXIT
    echo OLD >"$tmp/fs/w.csv"
    dd if=/dev/zero of="$tmp/fs/filler" bs=1k count=40 2>/dev/null
    expect 2 'w\.csv: cannot write: No space left on device; the previous .*w\.csv is unchanged' \
      train --n 1000 --d 3000 --epochs 1 --no-lstsq --out "$tmp/fs/w.csv"
    [ "$(cat "$tmp/fs/w.csv")" = OLD ] || fail "the previous file was changed"
    [ "$(ls -A "$tmp/fs" | wc -l)" -eq 2 ] || fail "files left behind: $(ls -A "$tmp/fs")"
    ;;
  write_concurrent_same_out)
    # Case 1: two runs writing the same --out while a reader keeps reading it. Every read sees
    # a whole file (the old one or a new one, d + 1 lines), never a truncated or mixed one, and
    # the last file is exactly what one of the two runs writes alone. The JSON is whole too.
    d=5000
    train() { "$bin" train --n 1000 --d $d --noise 0.1 --epochs 1 --no-lstsq --batch 1000 --seed "$1" --out "$2" >/dev/null; }
    train 1 "$tmp/solo1.csv" && train 2 "$tmp/solo2.csv" || fail "a solo run failed"
    cp "$tmp/solo1.csv" "$tmp/conc.csv"
    for trial in 1 2 3 4; do
      train 1 "$tmp/conc.csv" & a=$!
      train 2 "$tmp/conc.csv" & b=$!
      train 1 "$tmp/conc.json" & c=$!
      train 2 "$tmp/conc.json" & e=$!
      while kill -0 $a 2>/dev/null || kill -0 $b 2>/dev/null; do
        lines=$(grep -c '' "$tmp/conc.csv")
        [ "$lines" -eq $((d + 1)) ] || fail "trial $trial: a reader saw $lines lines"
      done
      wait $a && wait $b && wait $c && wait $e || fail "trial $trial: a run failed"
      cmp -s "$tmp/conc.csv" "$tmp/solo1.csv" || cmp -s "$tmp/conc.csv" "$tmp/solo2.csv" || fail "trial $trial: the CSV is neither run's"
      tail -c 2 "$tmp/conc.json" | grep -q '}' || fail "trial $trial: the JSON is cut short"
      [ "$(grep -c '"weights": \[' "$tmp/conc.json")" -eq 1 ] || fail "trial $trial: the JSON is mixed"
    done
    [ "$(ls -A "$tmp" | grep -c '^\.')" -eq 0 ] || fail "temporary files left behind"
    ;;
  outputs_checked_before_work)
    # Case 5: an output that cannot be written fails before the work, not after it.
    SECONDS=0
    expect 2 "option --out: '/proc/x\.csv' cannot be created" train --n 200000 --d 32 --epochs 5 --out /proc/x.csv
    [ -s "$tmp/out" ] && fail "train did work before failing"
    expect 2 "option --json: '/proc/x' must end in \.json" grad --data "$data/small.csv" --kernel scalar.residual.f64 --json /proc/x
    [ -s "$tmp/out" ] && fail "grad printed its table before failing"
    expect 2 "option --json: '$tmp' is a directory" verify --json "$tmp"
    expect 2 "option --csv: '/nonexistent-dir/s\.csv' cannot be created" sweep-h --kernel scalar.residual.f64 --csv /nonexistent-dir/s.csv
    [ -s "$tmp/out" ] && fail "sweep-h printed before failing"
    [ $SECONDS -lt 10 ] || fail "took ${SECONDS}s: the work ran first"
    expect 0 'supported here' info --json /dev/null
    ;;
  bad_empty_values)
    expect 2 "option --target: empty value" train --data "$data/small.csv" --target ''
    expect 2 "option --out: empty value" train --n 100 --d 3 --out ''
    expect 2 "option --print-every: '0' is not a whole number >= 1" train --n 100 --d 3 --print-every 0
    ;;
  info_dev_full)
    "$bin" info >/dev/full 2>"$tmp/err"
    got=$?
    [ $got -eq 2 ] || fail "exit status $got, expected 2"
    [ "$(grep -c '' "$tmp/err")" -eq 1 ] || fail "expected one line on stderr"
    grep -q '^numgrad: cannot write to standard output' "$tmp/err" || fail "no message about stdout"
    ;;
  slow_divergence)
    # Case 4: the loss rises every epoch from 0.70; exit 1 with advice, no weights file.
    "$bin" train --n 1000 --d 4 --noise 0 --lr 1.05 --batch 1000 --epochs 20 --out "$tmp/slow.csv" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ $got -eq 1 ] || fail "exit status $got, expected 1"
    [ "$(grep -c '' "$tmp/err")" -eq 1 ] || fail "expected one line on stderr"
    grep -q 'diverged in epoch 3: loss .* rose in each of the last 3 epochs.*--allow-divergence' "$tmp/err" || fail "no divergence message with advice"
    [ -e "$tmp/slow.csv" ] && fail "weights were written for a diverged run"
    expect 0 'the loss grew over the run' train --n 1000 --d 4 --noise 0 --lr 1.05 --batch 1000 --epochs 20 --out "$tmp/slow.csv" --allow-divergence
    [ "$(grep -c '' "$tmp/slow.csv")" -eq 5 ] || fail "--allow-divergence did not write the weights"
    ;;
  *) echo "unknown case '$case_name'"; exit 1 ;;
esac
echo "ok [$case_name]"
