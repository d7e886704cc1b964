# Sourced by bench.sh and bench-mpi.sh: the results folder a benchmark run writes,
# results/<name>/, which appears whole when the run ends or not at all.
#   numgrad_results_open NAME   makes the hidden partial folder (removed on exit) as $out
#   numgrad_machine_lines       prints the machine.txt lines every run records (key: value)
#   numgrad_results_close       renames it to results/NAME (NAME-2, ... when taken), prints it
# Two runs started in the same second get two folders: the partial folder is unique, and the
# final name gets a suffix when taken.
numgrad_results_open() {
  numgrad_results_name=$1
  mkdir -p "$root/results"
  out=$(mktemp -d "$root/results/.$numgrad_results_name.XXXX.partial")
  trap 'rm -rf "$out"' EXIT
  chmod "$(printf '%o' $((0777 & ~$(umask))))" "$out"  # mktemp makes it 0700
}

numgrad_machine_lines() {
  echo "date: $(date -Is)"
  echo "host: $(hostname -s 2>/dev/null || hostname)"
  echo "kernel: $(uname -srm)"
  # aarch64 kernels print no "model name": the core's implementer and part identify it there.
  local cpu_model
  cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  [ -n "$cpu_model" ] || cpu_model=$(awk -F': *' '/^CPU implementer/ && !i {i = $2}
    /^CPU part/ && !p {p = $2} END {if (i != "") print "implementer " i " part " p}' /proc/cpuinfo)
  echo "cpu_model: $cpu_model"
  echo "cores: $(nproc)"
}

numgrad_results_close() {
  local final=$root/results/$numgrad_results_name n=1
  while [ -e "$final" ]; do n=$((n + 1)); final=$root/results/$numgrad_results_name-$n; done
  mv "$out" "$final"
  trap - EXIT
  echo
  echo "results: $final"
}
