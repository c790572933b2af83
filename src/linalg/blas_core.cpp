#include "linalg/blas_core.hpp"

#include <cblas.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

namespace ctscope::linalg {

namespace {

constexpr const char* kGuard = "CTSCOPE_BLAS_CORE_CORRECTED";
constexpr const char* kSimulate = "CTSCOPE_SIMULATE_BLAS_FALLBACK";

// The widest vectors each OpenBLAS x86-64 family (0.3.21's names) uses:
// 0 before AVX, 1 AVX, 2 AVX2 + FMA, 3 AVX-512. A name not listed (a future
// family) is never second-guessed.
int core_level(const std::string& core) {
  static const std::map<std::string, int> levels = {
      {"Katmai", 0},     {"Coppermine", 0}, {"Northwood", 0},  {"Prescott", 0},    {"Banias", 0},
      {"Atom", 0},       {"Core2", 0},      {"Penryn", 0},     {"Dunnington", 0},  {"Nehalem", 0},
      {"Athlon", 0},     {"Opteron", 0},    {"Barcelona", 0},  {"Nano", 0},        {"Bobcat", 0},
      {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
      {"Haswell", 2},    {"Zen", 2},        {"SkylakeX", 3},   {"Cooperlake", 3},  {"SapphireRapids", 3}};
  const auto it = levels.find(core);
  return it == levels.end() ? -1 : it->second;
}

// The family to ask for on this CPU, with its level ("" and -1: nothing
// better than the generic kernels). SkylakeX rather than Cooperlake on
// AVX-512-BF16 CPUs: 0.3.21 does not find "Cooperlake" by name (it falls to
// its own guess), and the two share their SGEMM/DGEMM kernels.
std::pair<std::string, int> best_core(const CpuFeatures& cpu) {
  if (cpu.avx512) return {"SkylakeX", 3};
  if (cpu.avx2_fma) return {"Haswell", 2};
  return {"", -1};
}

std::string offers(const CpuFeatures& cpu) {
  std::string s = cpu.avx512 ? "AVX-512" : cpu.avx2_fma ? "AVX2+FMA" : "no AVX2";
  if (cpu.avx512_bf16) s += ", AVX512-BF16";
  if (cpu.amx_bf16) s += ", AMX";
  return s;
}

}  // namespace

std::string blas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "";
}

BlasCorePlan plan_blas_core(const std::string& chosen, const CpuFeatures& cpu, const char* user_coretype,
                            const char* corrected_from) {
  BlasCorePlan p;
  const std::string head = "BLAS: OpenBLAS core " + chosen + " (CPU: " + offers(cpu) + ")";
  if (corrected_from) {
    p.action = BlasCorePlan::Action::restarted;
    p.note = head + "; ctscope restarted itself with OPENBLAS_CORETYPE=" + (user_coretype ? user_coretype : "") +
             " because OpenBLAS had chosen " + corrected_from;
    if (user_coretype && chosen != user_coretype) p.note += std::string(" (OpenBLAS did not take the name)");
    return p;
  }
  if (user_coretype) {
    p.action = BlasCorePlan::Action::user_choice;
    p.note = head + "; OPENBLAS_CORETYPE=" + user_coretype + " is set: left as the user chose";
    return p;
  }
  const auto [best, level] = best_core(cpu);
  const int have = core_level(chosen);
  if (have < 0 || best.empty() || have >= level) {
    p.note = head + (have < 0 ? "; a family ctscope does not know: left as OpenBLAS chose" : "");
    return p;
  }
  p.action = BlasCorePlan::Action::restart;
  p.best = best;
  p.note = head + ": OpenBLAS fell back to older kernels than this CPU runs; " + best + " is better";
  return p;
}

BlasCorePlan blas_core_plan() {
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const char* guard = std::getenv(kGuard);
  const char* sim = std::getenv(kSimulate);
  const bool simulated = sim && *sim && std::strcmp(sim, "0") != 0;
  if (user && !*user) user = nullptr;
  if (guard && !*guard) guard = nullptr;
  return plan_blas_core(blas_core(), cpu_features(), simulated && !guard ? nullptr : user, guard);
}

std::string ensure_blas_core(char** argv) {
  BlasCorePlan plan = blas_core_plan();
  if (plan.action != BlasCorePlan::Action::restart) return plan.note;
  // The guard names the core OpenBLAS chose; the next run reads it and never restarts again.
  setenv("OPENBLAS_CORETYPE", plan.best.c_str(), 1);
  setenv(kGuard, blas_core().c_str(), 1);
  execv("/proc/self/exe", argv);
  // Still here: /proc is missing or the binary is gone. Run on the old kernels.
  const int err = errno;
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kGuard);
  return plan.note + "; restarting with OPENBLAS_CORETYPE=" + plan.best + " failed (" + std::strerror(err) +
         "): running on " + blas_core();
}

}  // namespace ctscope::linalg
