// Resumable training (src/train/train_state): a state file restores the
// trainable parameters and the optimizer bit for bit; a run stopped after a
// saved state and resumed ends where the uninterrupted run ends, bit for bit
// (with gradient accumulation too), also when killed (SIGKILL) between two
// saves or in the middle of writing one; a state that does not fit the run is
// refused in one line naming the file, and the run's parameters stay as they were.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>

#include "io/checkpoint.hpp"
#include "linalg/blas_threads.hpp"
#include "test_support.hpp"
#include "train/ct_parameters.hpp"
#include "train/train_run.hpp"
#include "train/train_state.hpp"
#include "util/error.hpp"

extern char** environ;

namespace ctscope::train {
namespace {

namespace fs = std::filesystem;

// The tiny synthetic model (dim 64, 4 layers, vocab 256) as least-squares
// amplitudes (gaussian basis) and, with `norms`, its RMSNorm weights.
ParameterSet<float> amplitude_set(const fs::path& model, int K = 8, bool norms = true) {
  CtTrainSettings s;
  s.fit.K = K;
  s.norms = norms;
  return ct_parameter_set(Checkpoint::open(model), s);
}

TokenWindows tiny_data() {
  std::vector<int32_t> text;
  for (int i = 0; i < 400; ++i) text.push_back(static_cast<int32_t>((i * 37 + i / 7) % 256));
  return TokenWindows(text, 16, 5, "text");
}

RunSettings ten_steps(OptimizerKind kind = OptimizerKind::AdamW, int64_t accumulate = 1) {
  RunSettings s;
  s.steps = 10, s.batch = 2, s.accumulate = accumulate, s.clip = 1.0;
  s.schedule = {.lr = 1e-2, .min_lr = 1e-3, .warmup = 2};
  s.optimizer = {.kind = kind, .weight_decay = 0.01};
  return s;
}

const std::string kFingerprint = "tiny K=8 gaussian+norms, 10 steps";

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // (memcmp of an empty vector's null data is undefined: SGD keeps no moments)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::vector<std::vector<float>> values(const ParameterSet<float>& ps) {
  std::vector<std::vector<float>> out;
  for (const auto& p : ps.params()) out.push_back(p.value);
  return out;
}

void expect_same_bits(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i], b[i])) << "parameter " << i;
}

// A log line without the timing (the part of the log a resumed run reproduces).
std::string log_line(const StepLog& l) {
  nlohmann::json j = l.to_json();
  j.erase("seconds");
  return j.dump();
}

// Saving to `state` every `every` steps; resuming from `resume` when set.
Checkpointing saving(const fs::path& state, int64_t every, const fs::path& resume = {}) {
  Checkpointing ck;
  ck.state = state;
  ck.save_every = every;
  ck.fingerprint = kFingerprint;
  ck.resume = resume;
  return ck;
}

struct Stopped {};

// A run of ten_steps on a fresh amplitude set: its final parameters and log.
// The log starts as `log` (what a resumed run read from its state); with
// stop_at >= 0 the run is cut off (an exception) as step stop_at begins.
struct Outcome {
  std::vector<std::vector<float>> values;
  std::vector<std::string> log;
};
Outcome train(const fs::path& model, const RunSettings& s, Checkpointing ck, std::vector<std::string> log = {},
              int64_t stop_at = -1) {
  ParameterSet<float> ps = amplitude_set(model);
  ck.fingerprint = kFingerprint;
  ck.log_lines = [&] { return log; };
  const TokenWindows data = tiny_data();
  try {
    train_run(ps, data, s, [&](const StepLog& l) {
      if (l.step == stop_at) throw Stopped{};
      log.push_back(log_line(l));
    }, ck);
  } catch (const Stopped&) {
  }
  return {values(ps), log};
}

class TrainState : public ::testing::Test {
 protected:
  linalg::ScopedBlasThreads one_{1};  // tiny matrices; and the bits depend on the thread count
};

// Save after three steps, load into a fresh set and optimizer: the same bits
// everywhere, for AdamW (moments and t) and SGD (no moments).
TEST_F(TrainState, RoundTripRestoresEveryBit) {
  const fs::path& model = test_support::tiny_synthetic_model();
  const test_support::TempDir dir_("train_state");
  const TokenWindows data = tiny_data();
  for (OptimizerKind kind : {OptimizerKind::AdamW, OptimizerKind::Sgd}) {
    SCOPED_TRACE(kind == OptimizerKind::Sgd ? "sgd" : "adamw");
    ParameterSet<float> ps = amplitude_set(model);
    const OptimizerSettings os{.kind = kind, .weight_decay = 0.01};
    Optimizer<float> opt(os, ps);
    auto acts = plan_activations<float>(ps.config(), 2, data.window_length());
    auto grads = ps.gradient_buffers();
    for (int64_t step = 0; step < 3; ++step) {
      const TokenBatch b = data.batch(step, 2);
      train_step(ps, acts, grads, std::span(&b, 1), opt, 1e-2, 1.0);
    }
    const std::vector<std::string> log = {R"({"step":0})", "line \"two\"\nwith a newline"};
    const fs::path file = dir_ / "state.safetensors";
    save_train_state(file, ps, opt, 3, kFingerprint, log);

    ParameterSet<float> fresh = amplitude_set(model);
    Optimizer<float> fresh_opt(os, fresh);
    ASSERT_NE(values(fresh), values(ps)) << "training must have moved the parameters, or the check says nothing";
    const TrainStateHeader h = load_train_state(file, kFingerprint, fresh, fresh_opt);
    EXPECT_EQ(h.step, 3);
    EXPECT_EQ(h.optimizer_t, 3);
    EXPECT_EQ(h.optimizer, kind);
    EXPECT_EQ(h.log, log);
    EXPECT_EQ(h.fingerprint, kFingerprint);
    EXPECT_EQ(fresh_opt.steps(), 3);
    expect_same_bits(values(fresh), values(ps));
    expect_same_bits(fresh_opt.first_moments(), opt.first_moments());
    expect_same_bits(fresh_opt.second_moments(), opt.second_moments());
    if (kind == OptimizerKind::AdamW) {
      EXPECT_NE(opt.first_moments(), Optimizer<float>(os, fresh).first_moments());
    }
  }
}

// Ten steps, or six (the state saved after step 5, the run cut off as step 6
// begins) and a resume to ten: the same parameters bit for bit and the same
// log; with two micro-batches per step too.
TEST_F(TrainState, ResumedRunEndsWhereTheUninterruptedOneEnds) {
  const fs::path& model = test_support::tiny_synthetic_model();
  const test_support::TempDir dir_("train_state");
  for (int64_t accumulate : {1, 2}) {
    SCOPED_TRACE("accumulate " + std::to_string(accumulate));
    const RunSettings s = ten_steps(OptimizerKind::AdamW, accumulate);
    const Outcome whole = train(model, s, {});
    const fs::path state = dir_ / "state.safetensors";
    const Outcome cut = train(model, s, saving(state, 3), {}, 6);
    ASSERT_EQ(cut.log.size(), 6u);
    ASSERT_NE(cut.values, whole.values) << "the cut-off run must not have reached the end";
    const TrainStateHeader h = read_train_state_header(state, kFingerprint);
    EXPECT_EQ(h.step, 6);
    EXPECT_EQ(h.log, cut.log);
    const Outcome resumed = train(model, s, saving(state, 3, state), h.log);
    expect_same_bits(resumed.values, whole.values);
    EXPECT_EQ(resumed.log, whole.log);
    EXPECT_EQ(read_train_state_header(state, kFingerprint).step, 10) << "the last step saves the state";
  }
}

// --- Killed runs --------------------------------------------------------------

// The crash test runs its training in a child: this test binary again,
// running this test alone, told by the environment to train (save_every 2)
// until it is killed - by the on_step hook at step CTSCOPE_TEST_STATE_KILL_STEP,
// or by util/atomic_file's CTSCOPE_TEST_KILL_AT while writing a state. A fresh
// process, since that hook reads its variable once per process.
constexpr const char* kChildState = "CTSCOPE_TEST_STATE_FILE";
constexpr const char* kChildModel = "CTSCOPE_TEST_STATE_MODEL";
constexpr const char* kChildKillStep = "CTSCOPE_TEST_STATE_KILL_STEP";

[[noreturn]] void train_until_killed(const char* state) {
  const char* kill_step = std::getenv(kChildKillStep);
  const int64_t kill_at = kill_step ? std::atoll(kill_step) : -1;
  ParameterSet<float> ps = amplitude_set(std::getenv(kChildModel));
  const Checkpointing ck = saving(state, 2);
  train_run(ps, tiny_data(), ten_steps(), [&](const StepLog& l) {
    if (l.step == kill_at) ::kill(::getpid(), SIGKILL);
  }, ck);
  ::_exit(3);  // not killed: the parent fails the test
}

// The wait status of the child run with `env` ("NAME=value") added.
int run_child(const fs::path& model, const fs::path& state, const std::string& env) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter = std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name();
  std::vector<std::string> vars = {std::string(kChildState) + "=" + state.string(),
                                   std::string(kChildModel) + "=" + model.string(), env};
  for (char** e = environ; *e; ++e) vars.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const char* argv[] = {"ctscope_tests", filter.c_str(), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::execve("/proc/self/exe", const_cast<char**>(argv), envp.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// Killed between two saves, while a state is being written, after it is
// written but before its rename, and after the rename: the file on disk is
// always a whole state, the last one or the new one, and resuming from it
// ends bit for bit where the uninterrupted run ends.
TEST_F(TrainState, KilledRunLeavesAWholeStateAndResumesExactly) {
  if (const char* state = std::getenv(kChildState)) train_until_killed(state);
  const fs::path& model = test_support::tiny_synthetic_model();
  const Outcome whole = train(model, ten_steps(), {});
  // States are saved after steps 1, 3, 5, ...; each is four write steps of
  // atomic_file (temporary created, first write, before rename, after), so
  // 9..12 are those of the third state, the one after step 5.
  struct Kill {
    std::string env;
    int64_t state_step;    // the step of the state on disk after the kill
    bool leaves_temporary;  // killed while the new state was unfinished
  };
  for (const Kill& k : {Kill{std::string(kChildKillStep) + "=5", 4, false}, Kill{"CTSCOPE_TEST_KILL_AT=10", 4, true},
                        Kill{"CTSCOPE_TEST_KILL_AT=11", 4, true}, Kill{"CTSCOPE_TEST_KILL_AT=12", 6, false}}) {
    SCOPED_TRACE(k.env);
    const test_support::TempDir run("train_state_kill");
    const fs::path state = run / "state.safetensors";
    const int status = run_child(model, state, k.env);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;
    int temporaries = 0;
    for (const auto& e : fs::directory_iterator(run.path)) temporaries += e.path() != state;
    EXPECT_EQ(temporaries, k.leaves_temporary ? 1 : 0);
    EXPECT_EQ(read_train_state_header(state, kFingerprint).step, k.state_step);
    const Outcome resumed = train(model, ten_steps(), saving(state, 2, state));
    expect_same_bits(resumed.values, whole.values);
  }
}

// --- Refusals ------------------------------------------------------------------

// The one-line message of the Error `load` throws, which must name `file`.
template <class F>
std::string refusal(const fs::path& file, F load) {
  try {
    load();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(file.string() + ": ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "no Error for " << file;
  return {};
}

// A state that does not fit the run: another fingerprint, another optimizer,
// a parameter missing, one too many, one of another shape, a truncated file,
// a safetensors file that is no state, a file that is no safetensors. Each a
// one-line Error naming the file; the run's parameters untouched.
TEST_F(TrainState, RefusesAStateThatDoesNotFit) {
  const fs::path& model = test_support::tiny_synthetic_model();
  const test_support::TempDir dir_("train_state");
  const auto save = [&](const std::string& name, ParameterSet<float> ps, OptimizerKind kind) {
    const fs::path file = dir_ / name;
    save_train_state(file, ps, Optimizer<float>({.kind = kind}, ps), 4, kFingerprint, {});
    return file;
  };
  const fs::path good = save("good.safetensors", amplitude_set(model), OptimizerKind::AdamW);
  const fs::path no_norms = save("no_norms.safetensors", amplitude_set(model, 8, false), OptimizerKind::AdamW);
  const fs::path k4 = save("k4.safetensors", amplitude_set(model, 4), OptimizerKind::AdamW);
  const fs::path sgd = save("sgd.safetensors", amplitude_set(model), OptimizerKind::Sgd);

  ParameterSet<float> ps = amplitude_set(model);
  for (auto& p : ps.params()) std::fill(p.value.begin(), p.value.end(), 0.5f);  // unlike any state above
  const auto before = values(ps);
  Optimizer<float> opt({}, ps);
  const auto load = [&](const fs::path& file, const std::string& fingerprint = kFingerprint) {
    return refusal(file, [&] { load_train_state(file, fingerprint, ps, opt); });
  };
  EXPECT_NE(load(good, "another run").find("a training state of another run"), std::string::npos);
  EXPECT_NE(refusal(good, [&] { read_train_state_header(good, "another run"); }).find("start without --resume"),
            std::string::npos);
  EXPECT_NE(load(sgd).find("an sgd run; this run uses adamw"), std::string::npos);
  EXPECT_NE(load(no_norms).find("(a parameter this run trains)"), std::string::npos);
  {
    ParameterSet<float> fewer = amplitude_set(model, 8, false);
    Optimizer<float> fewer_opt({}, fewer);
    EXPECT_NE(refusal(good, [&] { load_train_state(good, kFingerprint, fewer, fewer_opt); }).find("does not train"),
              std::string::npos);
  }
  EXPECT_NE(load(k4).find(", 4] in the state but ["), std::string::npos);

  const fs::path cut = dir_ / "cut.safetensors";
  fs::copy_file(good, cut);
  fs::resize_file(cut, fs::file_size(good) - 100);
  load(cut);
  EXPECT_NE(load(model / "model.safetensors").find("not a training state"), std::string::npos);
  const fs::path text = dir_ / "notes.txt";
  test_support::write_bytes(text, std::string("step 4\n"));
  load(text);
  expect_same_bits(values(ps), before);
  EXPECT_EQ(opt.steps(), 0);
}

// A state past the run's steps (a run resumed with fewer --steps than it had):
// refused, naming the file.
TEST_F(TrainState, RefusesAStatePastTheRunsSteps) {
  const fs::path& model = test_support::tiny_synthetic_model();
  const test_support::TempDir dir_("train_state");
  const fs::path state = dir_ / "state.safetensors";
  RunSettings s = ten_steps();
  s.steps = 3;
  train(model, s, saving(state, 0));
  s.steps = 2;
  EXPECT_NE(refusal(state, [&] { train(model, s, saving({}, 0, state)); }).find("past this run's 2 steps"),
            std::string::npos);
}

}  // namespace
}  // namespace ctscope::train
