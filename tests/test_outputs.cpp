// Outputs go where the user points (util/atomic_file): "-" and /dev/stdout
// are the process's standard output, a symbolic link's target is replaced
// (the link stays), a FIFO or a device is written as is, and only a regular
// file gets the temporary + rename.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <thread>

#include "test_support.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

using namespace ctscope;
using test_support::slurp;
using test_support::TempDir;
namespace fs = std::filesystem;

namespace {

// Nothing but `names` in `dir`: no temporary left behind.
void expect_only(const fs::path& dir, std::set<std::string> names) {
  std::set<std::string> got;
  for (const auto& e : fs::directory_iterator(dir)) got.insert(e.path().filename().string());
  EXPECT_EQ(got, names) << dir;
}

// Runs `write` with descriptor 1 pointing at `file`; returns what landed there.
std::string captured_stdout(const fs::path& file, const std::function<void()>& write) {
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  try {
    write();
  } catch (...) {
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    throw;
  }
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  return slurp(file);
}

}  // namespace

TEST(Outputs, RegularFileIsReplacedAtomicallyAndKeepsItsMode) {
  TempDir d;
  const fs::path f = d / "r.json";
  write_file_atomic(f, "old");
  ::chmod(f.c_str(), 0640);
  EXPECT_EQ(resolve_output(f).kind, OutputTarget::Kind::Replace);
  write_file_atomic(f, "new");
  EXPECT_EQ(slurp(f), "new");
  EXPECT_EQ(fs::status(f).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  expect_only(d.path, {"r.json"});
}

TEST(Outputs, SymlinkTargetIsReplacedAndTheLinkStays) {
  TempDir d;
  fs::create_directories(d / "a");
  fs::create_directories(d / "b");
  write_file_atomic(d / "b" / "t.json", "old");
  fs::create_symlink("../b/t.json", d / "a" / "link.json");  // relative to the link's directory
  fs::create_symlink("a/link.json", d / "chain.json");       // a link to a link
  EXPECT_EQ(resolve_output(d / "chain.json").path, d / "a" / ".." / "b" / "t.json");

  write_file_atomic(d / "chain.json", "new");
  EXPECT_TRUE(fs::is_symlink(d / "a" / "link.json"));
  EXPECT_TRUE(fs::is_symlink(d / "chain.json"));
  EXPECT_EQ(slurp(d / "b" / "t.json"), "new");
  // The temporary went beside the target, and is gone.
  expect_only(d / "a", {"link.json"});
  expect_only(d / "b", {"t.json"});

  // A link to a name not yet taken: the target is created, the link stays.
  fs::create_symlink("b/fresh.csv", d / "dangling.csv");
  write_file_atomic(d / "dangling.csv", "x,y\n");
  EXPECT_TRUE(fs::is_symlink(d / "dangling.csv"));
  EXPECT_EQ(slurp(d / "b" / "fresh.csv"), "x,y\n");

  // A loop of links is one error naming the output.
  fs::create_symlink("loop2", d / "loop1");
  fs::create_symlink("loop1", d / "loop2");
  EXPECT_THROW(write_file_atomic(d / "loop1", "x"), Error);
}

TEST(Outputs, FifoIsWrittenDirectly) {
  TempDir d;
  const fs::path fifo = d / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(resolve_output(fifo).kind, OutputTarget::Kind::Direct);
  check_writable(fifo);  // returns at once: no reader yet, and it must not wait for one
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  write_file_atomic(fifo, "{\"ppl\": 1.5}\n");
  reader.join();
  EXPECT_EQ(got, "{\"ppl\": 1.5}\n");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the pipe is still a pipe";
  expect_only(d.path, {"pipe"});
}

TEST(Outputs, DevNullIsWrittenDirectly) {
  ASSERT_EQ(resolve_output("/dev/null").kind, OutputTarget::Kind::Direct);
  check_writable("/dev/null");
  write_file_atomic("/dev/null", "discarded");
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null is still the device";
  for (const auto& e : fs::directory_iterator("/dev"))
    EXPECT_EQ(e.path().filename().string().rfind("null.tmp", 0), std::string::npos) << e.path();
}

TEST(Outputs, DashAndDevStdoutAreStandardOutput) {
  TempDir d;
  EXPECT_TRUE(is_stdout_name("-"));
  EXPECT_TRUE(is_stdout_name("/dev/stdout"));
  EXPECT_TRUE(is_stdout_name("/dev/fd/1"));
  EXPECT_TRUE(is_stdout_name("/proc/self/fd/1"));
  EXPECT_FALSE(is_stdout_name("/dev/stderr"));
  EXPECT_FALSE(is_stdout_name("./-x"));
  EXPECT_EQ(resolve_output("-").kind, OutputTarget::Kind::Descriptor);
  // Written through descriptor 1, wherever it points (here a file): no file named "-" appears.
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path);
  const std::string out = captured_stdout(d / "captured", [] {
    check_writable("-");
    write_file_atomic("-", "via dash\n");
    write_file_atomic("/dev/stdout", "via /dev/stdout\n");
  });
  fs::current_path(cwd);
  EXPECT_EQ(out, "via dash\nvia /dev/stdout\n") << "appended through the descriptor, never replaced or truncated";
  expect_only(d.path, {"captured"});
}

TEST(Outputs, DirectoriesAndInputsAreRefused) {
  TempDir d;
  EXPECT_THROW(write_file_atomic(d.path, "x"), Error);  // a directory is not a file
  EXPECT_THROW(check_writable(d.path), Error);
  EXPECT_THROW(check_writable(d / "missing" / "x.json"), Error);
  // An output that is an input, also through a link, is refused; "-" never is an input.
  write_file_atomic(d / "model.bin", "weights");
  fs::create_symlink("model.bin", d / "alias.bin");
  EXPECT_THROW(check_not_an_input(d / "alias.bin", {d / "model.bin"}), Error);
  EXPECT_NO_THROW(check_not_an_input("-", {d / "model.bin"}));
  // A checkpoint directory cannot be a stream.
  EXPECT_THROW(check_output_dir("-", true), Error);
  EXPECT_THROW(check_output_dir("/dev/stdout", true), Error);
}

TEST(Outputs, DirectoryThroughASymlinkReplacesTheTarget) {
  TempDir d;
  fs::create_directories(d / "real");
  write_file_atomic(d / "real" / "config.json", "{}");
  fs::create_symlink("real", d / "ck");
  check_output_dir(d / "ck", true);
  {
    AtomicDir dir(d / "ck");
    write_file_atomic(dir.tmp() / "config.json", "{\"new\": 1}");
    dir.commit();
  }
  EXPECT_TRUE(fs::is_symlink(d / "ck"));
  EXPECT_EQ(slurp(d / "real" / "config.json"), "{\"new\": 1}");
  expect_only(d.path, {"ck", "real"});
}
