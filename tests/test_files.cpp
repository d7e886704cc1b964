// Tests for numgrad::write_atomically and can_create_beside (numgrad/files.hpp), the one way
// the project writes an output file (issue 12, case 1): the target is replaced whole or left
// exactly as it was, keeps its permissions, and no temporary file is ever left behind. The
// full-disk and concurrent-writer cases run through the tool in tests/cli_test.sh
// (write_full_disk_keeps_old, write_concurrent_same_out).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "numgrad/files.hpp"

namespace numgrad {
namespace {

namespace fs = std::filesystem;

// A fresh, empty directory per test, removed afterwards.
class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("numgrad_files_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::size_t entries() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }
  fs::path dir_;
};

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_F(Files, WritesANewFileWithAPlainCreatesMode) {
  const mode_t mask = ::umask(022);
  ASSERT_TRUE(write_atomically(path("w.csv"), "a,1\n"));
  ::umask(mask);
  EXPECT_EQ(contents(path("w.csv")), "a,1\n");
  EXPECT_EQ(fs::status(path("w.csv")).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  EXPECT_EQ(entries(), 1u);
}

TEST_F(Files, ReplacesWholeAndKeepsTheOldMode) {
  std::ofstream(path("w.csv")) << "OLD CONTENT THAT IS LONGER\n";
  fs::permissions(path("w.csv"),
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_TRUE(write_atomically(path("w.csv"), "new\n"));
  EXPECT_EQ(contents(path("w.csv")), "new\n");
  EXPECT_EQ(fs::status(path("w.csv")).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_TRUE(write_atomically(path("w.csv"), ""));  // an empty output is still whole
  EXPECT_EQ(contents(path("w.csv")), "");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(Files, AFailedWriteLeavesTheTargetAndNoTemporaryFile) {
  // A non-empty directory where the file should go: the rename fails after the write.
  fs::create_directories(path("w.json/inside"));
  errno = 0;
  EXPECT_FALSE(write_atomically(path("w.json"), "{}\n"));
  EXPECT_NE(errno, 0);
  EXPECT_TRUE(fs::is_directory(path("w.json/inside")));
  EXPECT_EQ(entries(), 1u);  // only w.json: the temporary file is gone
  // A directory that does not exist: nothing can be created.
  errno = 0;
  EXPECT_FALSE(write_atomically(path("missing/w.csv"), "x"));
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(fs::exists(path("missing")));
}

TEST_F(Files, CanCreateBesideProbesAndCleansUp) {
  EXPECT_TRUE(can_create_beside(path("w.csv")));
  EXPECT_EQ(entries(), 0u);
  errno = 0;
  EXPECT_FALSE(can_create_beside(path("missing/w.csv")));
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
}  // namespace numgrad
