// Analysis lanes: several matrices analyzed side by side, each on one core.
// parallel_tasks hands every task out once and carries the first exception
// back; nested parallel loops inside a task run inline in the slices they
// would have on the pool; and so `analyze --lanes 2` gives exactly (bit for
// bit) the numbers of `--lanes 1` on every Gram path (AMX where the CPU has
// it, the AVX-512 BF16 dot products where it has those, SSYRK), including the
// Lanczos one (sides > 512).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "ct/model_analysis.hpp"
#include "io/dtype.hpp"
#include "io/safetensors_writer.hpp"
#include "linalg/gram.hpp"
#include "test_support.hpp"
#include "util/cpu_features.hpp"
#include "util/in_flight_budget.hpp"
#include "util/thread_pool.hpp"

using namespace ctscope;
using namespace ctscope::test_support;

namespace {

using Slice = std::tuple<int64_t, int64_t, int>;

// The slices parallel_for makes of [0, n) with this grain, as a set.
std::set<Slice> slices_of(int64_t n, int64_t grain) {
  std::mutex mu;
  std::set<Slice> out;
  parallel_for(n, grain, [&](int64_t i0, int64_t i1, int w) {
    const std::lock_guard lk(mu);
    out.insert({i0, i1, w});
  });
  return out;
}

// BF16 n x d with column scales (j + 1)^-1/2 (a power-law spectrum, so the
// Lanczos sums settle) and a column bias (so the centering matters).
std::vector<uint16_t> power_law_bf16(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> z(0.f, 0.02f);
  std::vector<uint16_t> w(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      w[static_cast<size_t>(i * d + j)] =
          f32_to_bf16(z(rng) * static_cast<float>(std::pow(static_cast<double>(j + 1), -0.5)) + 0.003f);
  return w;
}

// Six BF16 matrices: four with a Gram side above 1000 (tall, wide, square: the
// Lanczos path) and two small ones (LAPACK).
std::filesystem::path lanes_model(const TempDir& dir) {
  const std::vector<std::tuple<const char*, int64_t, int64_t>> shapes = {
      {"model.layers.0.mlp.up_proj.weight", 1400, 1100},   {"model.layers.0.mlp.down_proj.weight", 1100, 1400},
      {"model.layers.0.self_attn.q_proj.weight", 1100, 1100}, {"model.layers.1.mlp.up_proj.weight", 1300, 1040},
      {"model.layers.1.self_attn.k_proj.weight", 64, 1100},   {"model.layers.1.self_attn.v_proj.weight", 96, 160}};
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, n, d] : shapes) entries.push_back({name, DType::BF16, {n, d}});
  const std::filesystem::path file = dir / "lanes.safetensors";
  SafetensorsWriter out(file, entries);
  uint32_t seed = 1;
  for (const auto& [name, n, d] : shapes) {
    const auto w = power_law_bf16(n, d, seed++);
    out.write(name, w.data(), w.size() * sizeof(uint16_t));
  }
  out.commit();
  return file;
}

}  // namespace

TEST(ParallelTasks, EveryTaskRunsOnceAndNestedLoopsKeepTheirSlices) {
  EXPECT_FALSE(in_parallel_region());
  const std::set<Slice> outside = slices_of(1000, 16);
  constexpr int64_t kTasks = 200;
  std::vector<std::atomic<int>> runs(kTasks);
  std::atomic<int> not_in_region{0}, other_slices{0};
  std::set<int> lanes_seen;
  std::mutex mu;
  parallel_tasks(kTasks, 2, [&](int64_t t, int lane) {
    ++runs[static_cast<size_t>(t)];
    if (!in_parallel_region()) ++not_in_region;
    if (t % 50 == 0 && slices_of(1000, 16) != outside) ++other_slices;
    const std::lock_guard lk(mu);
    lanes_seen.insert(lane);
  });
  for (int64_t t = 0; t < kTasks; ++t) EXPECT_EQ(runs[static_cast<size_t>(t)], 1) << "task " << t;
  EXPECT_EQ(not_in_region, 0);
  EXPECT_EQ(other_slices, 0) << "a nested loop must make the slices (and worker indices) it makes outside";
  for (int lane : lanes_seen) EXPECT_LT(lane, std::min(2, worker_count()));
  EXPECT_FALSE(in_parallel_region());
}

TEST(ParallelTasks, TheFirstExceptionStopsTheHandOutAndIsRethrown) {
  // Tasks of 1 ms, so the other lane cannot run them all while the first
  // throw is unwinding (the first exception of a process can take a while).
  std::atomic<int> ran{0};
  try {
    parallel_tasks(1000, 2, [&](int64_t t, int) {
      ++ran;
      if (t == 3) throw std::runtime_error("task 3 failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 3 failed");
  }
  EXPECT_LT(ran, 100) << "tasks kept being handed out after the failure";
  parallel_tasks(0, 2, [&](int64_t, int) { FAIL() << "no task to run"; });
}

TEST(InFlightBudget, ATaskThatWouldPassTheCapWaitsAndOneAloneAlwaysGoes) {
  InFlightBudget budget(10);
  budget.acquire(25);  // alone: goes, though over the cap
  std::atomic<bool> second_in{false};
  std::thread other([&] {
    budget.acquire(4);
    second_in = true;
    budget.release(4);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(second_in) << "25 + 4 passes the cap of 10: the second must wait";
  budget.release(25);
  other.join();
  EXPECT_TRUE(second_in);
  budget.acquire(6);
  budget.acquire(4);  // 6 + 4 = the cap: both hold at once
  EXPECT_EQ(budget.held(), 10);
  budget.release(6);
  budget.release(4);
  EXPECT_EQ(budget.held(), 0);
}

TEST(InFlightBudget, AHoldGivesItsShareBackHoweverItsScopeEnds) {
  InFlightBudget budget(10);
  {
    const InFlightBudget::Hold a(budget, 3);
    EXPECT_EQ(budget.held(), 3);
  }
  EXPECT_EQ(budget.held(), 0);
  try {
    const InFlightBudget::Hold b(budget, 7);
    EXPECT_EQ(budget.held(), 7);
    throw std::runtime_error("a matrix that fails");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(budget.held(), 0) << "an exception must not keep the share";
}

TEST(AnalysisLanes, SideBySideGivesTheNumbersOfOneAtATime) {
  TempDir dir("lanes");
  const std::string model = lanes_model(dir).string();
  for (const std::string env : {"", "CTSCOPE_NO_AMX=1 CTSCOPE_AVX512BF16=1", "CTSCOPE_NO_AMX=1 CTSCOPE_AVX512BF16=0"}) {
    const std::string args = "analyze " + model + " --K 8,32 --basis gaussian,dct,random -q --json ";
    const CliRun one = run_cli(args + (dir / "one.json").string() + " --lanes 1", env);
    ASSERT_EQ(one.code, 0) << one.err;
    const CliRun two = run_cli(args + (dir / "two.json").string() + " --lanes 2", env);
    ASSERT_EQ(two.code, 0) << two.err;
    const auto a = result_without_timing(dir / "one.json"), b = result_without_timing(dir / "two.json");
    EXPECT_EQ(a, b) << env;
    ASSERT_EQ(a["matrices"].size(), 6u);
    int lanczos = 0;
    const auto timed = nlohmann::json::parse(slurp(dir / "two.json"));
    for (const auto& m : timed["matrices"]) lanczos += m["cost"]["krylov_dim"].get<int>() > 0;
    EXPECT_EQ(timed["timing"]["lanes"], std::min(2, worker_count()));
    EXPECT_EQ(nlohmann::json::parse(slurp(dir / "one.json"))["timing"]["lanes"], 1);
    // The path each run took is named beside its timing.
    const std::string kernel = timed["timing"]["bf16_gram_kernel"];
    const std::string expected = env.empty()                                      ? linalg::bf16_gram_kernel()
                                 : env.find("CTSCOPE_AVX512BF16=1") != std::string::npos && cpu_features().avx512_bf16
                                     ? "avx512bf16"
                                     : "ssyrk";
    EXPECT_EQ(kernel, expected) << env;
    EXPECT_FALSE(timed["timing"]["blas_core"].get<std::string>().empty());
    EXPECT_GE(lanczos, 1) << "no matrix took the Lanczos path: the test would not cover it";
  }
}

TEST(AnalysisLanes, AutomaticLanesStayWithinTheMemoryBudget) {
  ct::AnalysisPlan plan;
  auto matrix = [](int64_t n, int64_t d) {
    TensorInfo t;
    t.name = "m";
    t.dtype = DType::BF16;
    t.shape = {n, d};
    t.nbytes = static_cast<uint64_t>(n * d * 2);
    return t;
  };
  const TensorInfo tinyllama = matrix(5632, 2048), llama7b = matrix(32000, 4096), llama70b = matrix(28672, 8192);
  plan.sel.matrices = {&tinyllama, &tinyllama, &tinyllama};
  plan.jobs = {0, 1, 2};
  EXPECT_EQ(ct::analysis_lanes(plan, 0), std::min(3, worker_count()));
  EXPECT_EQ(ct::analysis_lanes(plan, 5), std::min(3, worker_count())) << "at most one lane per matrix and per core";
  // 7B on two cores: 2 x 18 bytes x 4096^2 of lane buffers and the 262 MB
  // vocabulary matrix fit 1 GB.
  plan.sel.matrices = {&tinyllama, &llama7b, &tinyllama};
  EXPECT_EQ(ct::analysis_lanes(plan, 0), std::min(2, worker_count()));
  // An 8192-sided Gram's lane alone holds ~1.07 GB: one lane, every core.
  plan.sel.matrices = {&tinyllama, &llama70b, &tinyllama};
  EXPECT_EQ(ct::analysis_lanes(plan, 0), 1);
  EXPECT_EQ(ct::analysis_lanes(plan, 2), std::min(2, worker_count())) << "an explicit count is the user's call";
  plan.sel.matrices = {&tinyllama, &tinyllama, &tinyllama};
  plan.out.settings.bases = {ct::BasisKind::Gaussian, ct::BasisKind::Svd};
  EXPECT_EQ(ct::analysis_lanes(plan, 0), 1) << "svd bases are per matrix: one lane";
  plan.out.settings.bases = {ct::BasisKind::Universal};
  EXPECT_EQ(ct::analysis_lanes(plan, 2), 1) << "universal bases are pooled: one lane";
}
