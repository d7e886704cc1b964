// `numgrad train` (issue 7): mini-batch SGD with any kernel's gradient. This header exists so
// that cli_main.cpp can detect (with __has_include) that the subcommand is built, and
// dispatch to it; the declaration matches the one in cli.hpp.
#pragma once

namespace numgrad::cli {

// Takes the arguments after the program name (argv[0] is "train"). Returns 0 on success,
// 1 when training diverged; throws UsageError / std::invalid_argument for bad input, which
// main reports as one line with exit status 2.
int cmd_train(int argc, char** argv);

}  // namespace numgrad::cli
