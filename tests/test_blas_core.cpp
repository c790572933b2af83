// The check of OpenBLAS's kernel choice (linalg/blas_core): the decision on
// made-up CPUs and cores, and the CLI forced onto the generic "Prescott"
// kernels as if OpenBLAS had chosen them (CTSCOPE_SIMULATE_BLAS_FALLBACK=1):
// it restarts itself on the CPU's family, says so with -v, and computes the
// same analysis as a run left on Prescott at the user's request.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "linalg/blas_core.hpp"
#include "test_support.hpp"

using namespace ctscope;
using namespace ctscope::linalg;
using namespace ctscope::test_support;
using Action = BlasCorePlan::Action;

namespace {

CpuFeatures cpu(bool avx2, bool avx512) {
  CpuFeatures f;
  f.avx2_fma = avx2;
  f.avx512 = avx512;
  return f;
}

// Sets environment variables for its lifetime.
class Env {
 public:
  explicit Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [k, v] : vars) {
      names_.push_back(k);
      setenv(k, v, 1);
    }
  }
  ~Env() {
    for (const auto* k : names_) unsetenv(k);
  }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

 private:
  std::vector<const char*> names_;
};

}  // namespace

TEST(BlasCore, FallbackOnANewerCpuIsCorrected) {
  const auto avx512 = cpu(true, true), avx2 = cpu(true, false), old = cpu(false, false);
  EXPECT_EQ(plan_blas_core("Prescott", avx512, nullptr, nullptr).action, Action::restart);
  EXPECT_EQ(plan_blas_core("Prescott", avx512, nullptr, nullptr).best, "SkylakeX");
  EXPECT_EQ(plan_blas_core("Haswell", avx512, nullptr, nullptr).best, "SkylakeX");
  EXPECT_EQ(plan_blas_core("Zen", avx512, nullptr, nullptr).best, "SkylakeX");  // Zen 4 in a 0.3.21
  EXPECT_EQ(plan_blas_core("Nehalem", avx2, nullptr, nullptr).best, "Haswell");
  EXPECT_EQ(plan_blas_core("Sandybridge", avx2, nullptr, nullptr).best, "Haswell");
  // Already as good as the CPU allows, a CPU with nothing better, a family ctscope does not know.
  for (const auto& [core, f] : {std::pair{"SkylakeX", avx512}, {"Cooperlake", avx512}, {"Haswell", avx2},
                                {"Zen", avx2}, {"Prescott", old}, {"SomeFutureLake", avx512}})
    EXPECT_EQ(plan_blas_core(core, f, nullptr, nullptr).action, Action::keep) << core;
}

TEST(BlasCore, UserChoiceAndRestartAreRespected) {
  const auto avx512 = cpu(true, true);
  const auto user = plan_blas_core("Prescott", avx512, "Prescott", nullptr);
  EXPECT_EQ(user.action, Action::user_choice);
  EXPECT_NE(user.note.find("OPENBLAS_CORETYPE=Prescott is set"), std::string::npos) << user.note;
  // The restarted run never restarts again, even when OpenBLAS ignored the name.
  const auto again = plan_blas_core("Prescott", avx512, "SkylakeX", "Prescott");
  EXPECT_EQ(again.action, Action::restarted);
  EXPECT_NE(again.note.find("did not take the name"), std::string::npos) << again.note;
  const auto done = plan_blas_core("SkylakeX", avx512, "SkylakeX", "Prescott");
  EXPECT_EQ(done.action, Action::restarted);
  EXPECT_NE(done.note.find("restarted itself with OPENBLAS_CORETYPE=SkylakeX because OpenBLAS had chosen Prescott"),
            std::string::npos)
      << done.note;
}

TEST(BlasCore, CliCorrectsAForcedGenericCoreWithTheSameResults) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const auto& f = cpu_features();
  if (!f.avx2_fma) GTEST_SKIP() << "this CPU has no AVX2+FMA: no OpenBLAS family better than Prescott to correct to";
  const std::string best = f.avx512 ? "SkylakeX" : "Haswell";
  TempDir tmp("blascore");
  const std::string model = (kModels / "stories260K.bin").string();
  auto analyze = [&](const std::string& name) {
    const auto out = tmp / (name + ".json");
    const auto r = run_cli("-v analyze " + model + " --K 8,32 --quiet --json " + out.string());
    EXPECT_EQ(r.code, 0) << r.err;
    return std::pair{r.err, nlohmann::json::parse(slurp(out))};
  };
  std::pair<std::string, nlohmann::json> corrected, generic;
  {
    Env e({{"OPENBLAS_CORETYPE", "Prescott"}, {"CTSCOPE_SIMULATE_BLAS_FALLBACK", "1"}});
    corrected = analyze("corrected");
  }
  {
    Env e({{"OPENBLAS_CORETYPE", "Prescott"}});  // the user's own choice: kept
    generic = analyze("generic");
  }
  EXPECT_NE(corrected.first.find("BLAS: OpenBLAS core " + best), std::string::npos) << corrected.first;
  EXPECT_NE(corrected.first.find("restarted itself with OPENBLAS_CORETYPE=" + best +
                                 " because OpenBLAS had chosen Prescott"),
            std::string::npos)
      << corrected.first;
  EXPECT_NE(generic.first.find("BLAS: OpenBLAS core Prescott"), std::string::npos) << generic.first;
  EXPECT_NE(generic.first.find("left as the user chose"), std::string::npos) << generic.first;
  // The same numbers on either kernel family, up to the order of float sums.
  const auto& a = corrected.second["matrices"];
  const auto& b = generic.second["matrices"];
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 0u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]["fits"].size(), b[i]["fits"].size());
    for (size_t k = 0; k < a[i]["fits"].size(); ++k)
      EXPECT_NEAR(a[i]["fits"][k]["r2"].get<double>(), b[i]["fits"][k]["r2"].get<double>(), 1e-6) << i << "," << k;
  }
}

// cpuid, read by hand in util/cpu_features, against what the kernel read of
// the same CPU (/proc/cpuinfo: vendor_id and flags), where there is one.
TEST(CpuFeatures, AgreeWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line, vendor, flags;
  while (std::getline(in, line) && (vendor.empty() || flags.empty())) {
    if (line.rfind("vendor_id", 0) == 0) vendor = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0) flags = line.substr(line.find(':') + 1) + ' ';  // " f1 f2 ... fn "
  }
  if (vendor.empty() || flags.empty()) GTEST_SKIP() << "no x86 /proc/cpuinfo here";
  const CpuFeatures& f = cpu_features();
  auto has = [&](const std::string& flag) { return flags.find(' ' + flag + ' ') != std::string::npos; };
  EXPECT_EQ(f.amd, vendor == "AuthenticAMD") << vendor;
  EXPECT_EQ(f.avx2_fma, has("avx2") && has("fma"));
  EXPECT_EQ(f.avx512, has("avx512f") && has("avx512dq") && has("avx512bw") && has("avx512vl"));
  EXPECT_EQ(f.avx512_bf16, f.avx512 && has("avx512_bf16"));
  EXPECT_EQ(f.amx_bf16, has("amx_tile") && has("amx_bf16"));
}
