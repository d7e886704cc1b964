#!/usr/bin/env bash
# The CMake package, the way a project uses it (ctest label package): examples/consumer built
# against numgrad both ways and run.
#   package_test.sh CASE CMAKE SOURCE BUILD WORK VERSION [cmake args for the consumer...]
#   install           cmake --install BUILD to WORK/prefix (the other cases' fixture)
#   find_package      the consumer against WORK/prefix: find_package(numgrad 0.3 CONFIG)
#   add_subdirectory  the consumer with SOURCE as a subdirectory, its build type left empty:
#                     `all` builds numgrad's library alone, and numgrad leaves its build type
#                     and tests alone
set -u
case_name=$1 cmake=$2 source=$3 build=$4 work=$5 version=$6
shift 6
consumer=$work/$case_name

fail() {
  echo "FAIL [$case_name]: $*"
  exit 1
}

# run_consumer: configures and builds the consumer (cmake arguments ARGS...) in $consumer,
# then runs it: it must print numgrad's version and finite values.
run_consumer() {
  rm -rf "$consumer"
  "$cmake" -S "$source/examples/consumer" -B "$consumer" "$@" || fail "configure failed"
  "$cmake" --build "$consumer" || fail "build failed"
  "$consumer/consumer" >"$work/$case_name.out" || fail "the consumer exited $?"
  cat "$work/$case_name.out"
  grep -q "^numgrad $version " "$work/$case_name.out" || fail "not numgrad $version"
  grep -Eq '^loss [0-9]' "$work/$case_name.out" || fail "no loss printed"
  grep -Eq '^gradient g\[0\.\.3\]( -?[0-9][^ ]*){4}$' "$work/$case_name.out" ||
    fail "no gradient printed"
}

case $case_name in
  install)
    rm -rf "$work/prefix"
    "$cmake" --install "$build" --prefix "$work/prefix" || fail "install failed"
    for f in lib/cmake/numgrad/numgradConfig.cmake lib/cmake/numgrad/numgradConfigVersion.cmake \
      include/numgrad/version.hpp share/doc/numgrad/LICENSE; do
      [ -f "$work/prefix/$f" ] || fail "$f not installed"
    done
    "$work/prefix/bin/numgrad" --version | grep -q "^numgrad $version (" ||
      fail "the installed tool is not numgrad $version"
    ;;
  find_package)
    run_consumer -DCMAKE_PREFIX_PATH="$work/prefix" "$@"
    grep -q "^numgrad_DIR:PATH=$work/prefix/" "$consumer/CMakeCache.txt" ||
      fail "numgrad was not found in $work/prefix"
    ;;
  add_subdirectory)
    run_consumer -DNUMGRAD_SOURCE_DIR="$source" -DCMAKE_BUILD_TYPE= "$@"
    grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$consumer/CMakeCache.txt" ||
      fail "the consumer's empty build type was changed"
    for part in cli bench tests; do
      [ ! -e "$consumer/numgrad/$part" ] || fail "numgrad's $part/ was configured"
    done
    tests=$(cd "$consumer" && "$(dirname "$cmake")/ctest" -N | sed -n 's/^Total Tests: //p')
    [ "$tests" = 1 ] || fail "the consumer's ctest lists $tests tests, not its own 1"
    ;;
  *) fail "unknown case" ;;
esac
echo "ok"
