// Faults while writing outputs (issue 10, item 18): compress, reconstruct,
// synth and analyze --json are killed (SIGKILL, which no handler sees) at every
// step of their writing - a temporary created, its first bytes, before and after
// each rename - through the CTSCOPE_TEST_KILL_AT hook of util/atomic_file. After
// each kill the output path holds the previous output unchanged, or the new
// one complete (read back by ctscope), or - with no previous output - nothing;
// the killed run's temporaries carry its pid and the next run removes them.
// A full disk (a file-size limit) is one line, exit 2, and the previous output
// unchanged.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "util/temporaries.hpp"

namespace fs = std::filesystem;
using namespace ctscope::test_support;

namespace {

std::string q(const fs::path& p) { return std::string("'") + p.string() + "'"; }

// Every file under `p` (or `p` itself) by relative name, with its bytes; empty when absent.
std::map<std::string, std::string> snapshot(const fs::path& p) {
  std::map<std::string, std::string> out;
  if (fs::is_regular_file(p)) out[""] = slurp(p);
  if (fs::is_directory(p))
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file()) out[fs::relative(e.path(), p).string()] = slurp(e.path());
  return out;
}

// The raw wait status of `ctscope ARGS` with extra environment `env` (shell
// words); exec, so that a kill is seen as the signal, not as the shell's 137.
int run_status(const std::string& env, const std::string& args) {
  const std::string cmd = env + " exec " + CTSCOPE_BINARY + " " + args + " >/dev/null 2>&1 </dev/null";
  return std::system(cmd.c_str());
}

// Entries of `dir` that belong to no run: temporaries ("OUT.tmp.PID",
// "OUT.tmp-PID") or directories moved aside ("OUT.old-PID").
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if (f.find(".tmp") != std::string::npos || f.find(".old-") != std::string::npos) out.push_back(f);
  }
  return out;
}

struct Scenario {
  std::string args;                              // the command, writing to OUT (substituted)
  std::function<bool(const fs::path&)> is_new;   // whether OUT holds a complete new output
};

// Kills the run at step 1, 2, 3, ... until it completes; after each kill OUT
// is `before` (the previous output, or absent) or complete and new; leftovers
// of killed runs are temporaries of their pids, gone after the run that completes.
void kill_at_every_step(const fs::path& dir, const fs::path& out, const Scenario& s) {
  const auto before = snapshot(out);
  std::string args = s.args;
  args.replace(args.find("OUT"), 3, q(out));
  int step = 1;
  for (;; ++step) {
    ASSERT_LT(step, 100) << "the run never completed: " << args;
    const int status = run_status(std::string("CTSCOPE_TEST_KILL_AT=") + std::to_string(step), args);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << args;
      break;
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "step " << step << ": " << args;
    const auto now = snapshot(out);
    EXPECT_TRUE(now == before || s.is_new(out))
        << "killed at write step " << step << ", " << out << " is neither the previous output nor a complete one";
    for (const auto& f : leftovers(dir))
      EXPECT_EQ(f.rfind(out.filename().string() + ".tmp", 0), 0u) << "step " << step << " left " << f;
  }
  EXPECT_GT(step, 3) << "the hook saw fewer write steps than expected: " << args;
  EXPECT_TRUE(s.is_new(out));
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{}) << "the completed run removed the temporaries of killed ones";
}

bool inspect_reads(const fs::path& p) { return run_status("", "inspect " + q(p)) == 0; }

bool complete_json(const fs::path& p) {
  if (!fs::is_regular_file(p)) return false;
  const auto j = nlohmann::json::parse(slurp(p), nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("matrices");
}

struct Fixture {
  TempDir tmp{"faults"};
  fs::path model = tmp / "m", ct = tmp / "m.ct.safetensors";
  Fixture() {
    EXPECT_EQ(run_status("", "synth " + q(model) + " --preset tiny"), 0);
    EXPECT_EQ(run_status("", "compress " + q(model) + " -o " + q(ct) + " --K 4 -q"), 0);
  }
};

}  // namespace

TEST(WriteFaults, SynthKilledAtEveryStepLeavesOldOrNewOrNothing) {
  Fixture f;
  const Scenario s{"synth OUT --preset tiny -q", inspect_reads};
  kill_at_every_step(f.tmp.path, f.tmp / "fresh", s);  // no previous output: nothing or the new one
  ASSERT_EQ(run_status("", "synth " + q(f.tmp / "old") + " --preset tiny --seed 7 -q"), 0);
  kill_at_every_step(f.tmp.path, f.tmp / "old", s);  // the previous one (another seed) or the new one
}

TEST(WriteFaults, ReconstructKilledAtEveryStepLeavesOldOrNewOrNothing) {
  Fixture f;
  const Scenario s{"reconstruct " + q(f.ct) + " -o OUT -q", inspect_reads};
  kill_at_every_step(f.tmp.path, f.tmp / "fresh", s);
  ASSERT_EQ(run_status("", "synth " + q(f.tmp / "old") + " --preset tiny --seed 7 -q"), 0);
  kill_at_every_step(f.tmp.path, f.tmp / "old", s);
}

TEST(WriteFaults, CompressKilledAtEveryStepLeavesOldOrNew) {
  Fixture f;
  const fs::path out = f.tmp / "c.ct.safetensors";
  ASSERT_EQ(run_status("", "compress " + q(f.model) + " -o " + q(out) + " --K 2 -q"), 0);  // the previous output
  kill_at_every_step(f.tmp.path, out, {"compress " + q(f.model) + " -o OUT --K 4 -q", inspect_reads});
}

TEST(WriteFaults, AnalyzeJsonKilledAtEveryStepLeavesOldOrNew) {
  Fixture f;
  const fs::path out = f.tmp / "a.json";
  write_bytes(out, "previous\n");
  kill_at_every_step(f.tmp.path, out, {"analyze " + q(f.model) + " --K 4 --no-svd --json OUT -q", complete_json});
}

TEST(WriteFaults, AFullDiskIsOneLineAndKeepsThePreviousOutput) {
  // A file-size limit stands in for a full disk (SIGXFSZ is ignored: write() fails with EFBIG).
  Fixture f;
  const struct {
    std::string args, out;
    int limit_kb;
  } cases[] = {
      {"synth OUT --preset tiny --seed 3 -q", "s", 100},
      {"reconstruct " + q(f.ct) + " -o OUT -q", "r", 100},
      {"compress " + q(f.model) + " -o OUT --K 4 -q", "c.ct.safetensors", 20},
      {"analyze " + q(f.model) + " --K 4 --no-svd --json OUT -q", "a.json", 1},
  };
  for (const auto& c : cases) {
    const fs::path out = f.tmp / c.out;
    std::string args = c.args;
    args.replace(args.find("OUT"), 3, q(out));
    ASSERT_EQ(run_status("", args), 0) << args;  // the previous output, written without a limit
    const auto before = snapshot(out);
    const fs::path err = f.tmp / "err";
    const std::string cmd = "ulimit -f " + std::to_string(c.limit_kb) + "; " + CTSCOPE_BINARY + " " + args + " 2>" +
                            q(err) + " >/dev/null </dev/null";
    const int status = std::system(("bash -c " + q(cmd)).c_str());
    ASSERT_TRUE(WIFEXITED(status)) << args;
    EXPECT_EQ(WEXITSTATUS(status), 2) << args;
    const std::string msg = slurp(err);
    EXPECT_EQ(count_lines(msg), 1) << msg;
    EXPECT_NE(msg.find("write failed"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(".tmp"), std::string::npos) << "names a temporary: " << msg;
    EXPECT_TRUE(snapshot(out) == before) << out << " changed";
    EXPECT_EQ(leftovers(f.tmp.path), std::vector<std::string>{}) << args;
  }
}

TEST(WriteFaults, ADirectoryMovedAsideByAKilledRunIsPutBack) {
  // Where the filesystem has no RENAME_EXCHANGE, the old directory is moved to
  // "OUT.old-PID" just before the new one takes its name; a kill in between
  // must not lose it (a pid beyond pid_max is a process that no longer runs).
  TempDir tmp;
  fs::create_directories(tmp / "out.old-99999999");
  write_bytes(tmp / "out.old-99999999" / "config.json", "{}");
  ctscope::remove_stale_temporaries(tmp / "out");
  EXPECT_EQ(slurp(tmp / "out" / "config.json"), "{}") << "the previous output was not put back";
  // With the new output in place, the old one is removed.
  fs::create_directories(tmp / "out.old-99999998");
  ctscope::remove_stale_temporaries(tmp / "out");
  EXPECT_EQ(leftovers(tmp.path), std::vector<std::string>{});
  EXPECT_TRUE(fs::exists(tmp / "out" / "config.json"));
}

TEST(WriteFaults, ADirectoryNamedWithATrailingSlashIsWrittenAndReplaced) {
  // `reconstruct m.ct.safetensors -o m-dense/` (the README's own example) made
  // its temporary inside m-dense/ and then failed to swap it in, leaving an
  // empty directory: the temporary goes beside the directory however it is spelt.
  Fixture f;
  const fs::path out = f.tmp / "dense";
  for (int run = 0; run < 2; ++run) {  // new, then replacing
    const auto r = run_cli("reconstruct " + q(f.ct) + " -o " + q(out.string() + "/") + " -q");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(out / "model.safetensors")) << "run " << run;
    EXPECT_EQ(leftovers(f.tmp.path), std::vector<std::string>{});
    EXPECT_EQ(leftovers(out), std::vector<std::string>{});
  }
}
