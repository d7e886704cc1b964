// Shared by the tests of the readers and the data layer: the message of the
// std::invalid_argument an API call must throw, and a check that it names every given part
// (the argument, its value, FILE:LINE:COL), which is what the API promises a user.
#pragma once

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace numgrad::testing {

// Runs `f`, expects std::invalid_argument, and returns its message for substring checks.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (...) {
    ADD_FAILURE() << "threw something other than std::invalid_argument";
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

}  // namespace numgrad::testing

#define EXPECT_ERROR_HAS(expr, ...)                                                   \
  do {                                                                                \
    const std::string message_ = ::numgrad::testing::error_of([&] { (void)(expr); }); \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) {          \
      EXPECT_NE(message_.find(part_), std::string::npos)                              \
          << "message \"" << message_ << "\" lacks \"" << part_ << "\"";              \
    }                                                                                 \
  } while (0)
