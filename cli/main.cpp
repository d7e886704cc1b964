// Entry point of the `numgrad` tool: the subcommand table, `numgrad --help`, `numgrad info`,
// and the one place that turns any exception into a single "numgrad: ..." line on stderr and
// exit status 2, so that bad input never ends in a crash or a stack of messages.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>
#include <string_view>

#include "cli.hpp"
#include "numgrad/isa.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/version.hpp"

namespace numgrad::cli {
namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(int argc, char** argv);
  std::string_view summary;
};

constexpr Subcommand kSubcommands[] = {
    {"info", cmd_info, "instruction sets, default threads, and the kernel table"},
    {"verify", cmd_verify, "every kernel against the high-precision reference (exit 1 on failure)"},
    {"grad", cmd_grad, "loss, central-difference and analytic gradient for your CSV and weights"},
    {"sweep-h", cmd_sweep_h, "central/forward-difference error against the step h = 2^k"},
    {"train", cmd_train, "mini-batch SGD with any kernel's gradient on CSV or synthetic data"},
};

void print_main_help(std::ostream& out) {
  out << "Usage: numgrad COMMAND [options]   (numgrad COMMAND --help for its options)\n\n"
         "The MSE loss of a linear model and its central-difference gradient: check the\n"
         "kernels of this build against a high-precision reference, on synthetic data or\n"
         "your own CSV.\n\nCommands:\n";
  for (const Subcommand& s : kSubcommands) {
    out << "  " << s.name << std::string(10 - s.name.size(), ' ') << s.summary << "\n";
  }
  // The ISA names of this build's architecture (numgrad/isa_list.hpp), best last.
  std::string isas;
  for (Isa i : compiled_isas()) {
    if (!isas.empty()) isas += '|';
    isas += name(i);
  }
  out << "\nnumgrad --version prints the version and the git commit it was built from.\n"
         "Exit status: 0 success, 1 a check failed (verify), 2 bad input.\n"
         "Environment: NUMGRAD_THREADS (default thread count), NUMGRAD_ISA="
      << isas << "\n(cap the instruction set, to see how an older CPU would fare).\n";
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

}  // namespace

int cmd_info(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"json", "FILE", "also write the information as JSON (-: to stdout, the table to stderr)"}};
  const Options opts("info", specs, argc, argv);
  if (opts.help()) {
    print_help(std::cout, "numgrad info [--json FILE]",
               "What this binary and this CPU offer: the architecture it was built for, the\n"
               "instruction sets compiled in and usable here (NUMGRAD_ISA caps them), the\n"
               "default thread count (NUMGRAD_THREADS, else the hardware threads), and every\n"
               "registered kernel.",
               specs);
    return kExitOk;
  }
  const std::string json = output_option(opts, "json", {".json"}, true);
  const char* cap_env = std::getenv("NUMGRAD_ISA");
  const std::string cap = cap_env ? cap_env : "";
  const char* env_threads = std::getenv("NUMGRAD_THREADS");
  const std::string threads_from = env_threads && *env_threads ? "NUMGRAD_THREADS" : "hardware";
  std::ostream& out = report();
  out << "architecture: " << kArchitecture << "\n";
  out << "instruction sets (compiled in: usable here):";
  for (Isa i : compiled_isas()) out << " " << name(i) << ":" << yes_no(isa_available(i));
  out << "\nbest usable: " << name(best_isa())
      << (cap.empty() ? std::string() : " (NUMGRAD_ISA=" + cap + ")") << "\n";
  out << "default threads: " << default_thread_count() << " (" << threads_from << ")\n\n";

  Table table({"kernel", "elem", "acc", "algorithm", "axis", "isa", "deterministic", "supported"},
              std::vector<bool>(8, false));
  std::size_t supported = 0;
  for (const Kernel& k : registry()) {
    table.row({k.id, std::string(name(k.elem)), std::string(name(k.acc)),
               std::string(name(k.algorithm)), std::string(name(k.axis)), std::string(name(k.isa)),
               yes_no(k.deterministic), yes_no(k.is_supported())});
    supported += k.is_supported();
  }
  table.print(out);
  out << registry().size() << " kernels, " << supported << " supported here\n";

  if (!json.empty()) {
    write_output(json, [&](std::ostream& file) {
      Json j(file);
      j.begin_document("info", 1).value("architecture", kArchitecture).begin_array("isas");
      for (Isa i : compiled_isas())
        j.begin_object().value("name", name(i)).value("available", isa_available(i)).end_object();
      j.end_array().value("best_isa", name(best_isa()));
      // The text's "(NUMGRAD_ISA=...)" and "(hardware)": where the two defaults come from.
      if (cap.empty())
        j.null("isa_cap");
      else
        j.value("isa_cap", cap);
      j.value("default_threads", default_thread_count())
          .value("default_threads_from", threads_from);
      j.value("kernel_count", registry().size()).value("supported_count", supported);
      j.begin_array("kernels");
      for (const Kernel& k : registry()) {
        j.begin_object()
            .value("id", k.id)
            .value("elem", name(k.elem))
            .value("acc", name(k.acc))
            .value("algorithm", name(k.algorithm))
            .value("axis", name(k.axis))
            .value("isa", name(k.isa))
            .value("deterministic", k.deterministic)
            .value("supported", k.is_supported())
            .end_object();
      }
      j.end_array().end_object();
    });
  }
  return kExitOk;
}

int run_main(int argc, char** argv) {
  if (argc < 2) throw UsageError("no command given; run 'numgrad --help' for the list");
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    print_main_help(std::cout);
    return kExitOk;
  }
  if (command == "--version") {
    std::cout << "numgrad " << kVersion << " (" << kGitDescribe << ")\n";
    return kExitOk;
  }
  // Bad NUMGRAD_ISA / NUMGRAD_THREADS / NUMGRAD_PREFETCH values surface here, before any output,
  // rather than halfway through a table; under mpirun they may be bad on one node only.
  const auto preflight = [] {
    (void)best_isa();
    (void)default_thread_count();
    (void)prefetch_enabled();
  };
  if (ranks() == nullptr) {
    preflight();
  } else {
    if (command != "train")
      throw UsageError("under an MPI launcher only 'train' runs distributed; run '" +
                       std::string(command) + "' as one process");
    ranks()->agree(preflight);
  }
  for (const Subcommand& s : kSubcommands)
    if (s.name == command) return s.run(argc - 1, argv + 1);
  std::string names;
  for (const Subcommand& s : kSubcommands)
    names += (names.empty() ? "" : ", ") + std::string(s.name);
  throw UsageError("unknown command '" + std::string(command) + "'; commands are " + names);
}

// Output lost on its way (a full disk, /dev/full, an I/O error) must not end in exit 0: stdout
// is flushed and checked once, when the command is done, like every file the tool writes.
void check_stdout() {
  // The reason is known only when the last flush fails; an earlier failed write left no errno
  // that can be trusted by now.
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (!flushed || std::ferror(stdout) || !std::cout)
    throw UsageError(std::string("cannot write to standard output") +
                     (!flushed && err != 0 ? std::string(": ") + std::strerror(err) : ""));
}

namespace {
Ranks* g_ranks = nullptr;
}  // namespace

Ranks* ranks() {
  return g_ranks;
}

void set_ranks(Ranks* r) {
  g_ranks = r;
}

int guarded_main(int argc, char** argv) {
  try {
    const int status = run_main(argc, argv);
    check_stdout();
    return status;
  } catch (const std::bad_alloc&) {
    std::cerr << "numgrad: out of memory (is the problem too large?)\n";
  } catch (const std::exception& e) {
    // One line whatever the message holds: newlines from a library message are folded.
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    std::cerr << "numgrad: " << msg << "\n";
  } catch (...) {
    std::cerr << "numgrad: unexpected error\n";
  }
  return numgrad::cli::kExitUsage;
}

}  // namespace numgrad::cli

int main(int argc, char** argv) {
#ifdef NUMGRAD_WITH_MPI
  if (numgrad::cli::mpi_launched()) return numgrad::cli::mpi_main(argc, argv);
#endif
  return numgrad::cli::guarded_main(argc, argv);
}
