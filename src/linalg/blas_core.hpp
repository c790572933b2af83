// Which kernel family OpenBLAS runs, and the correction when it is worse than
// the CPU allows. OpenBLAS (DYNAMIC_ARCH builds, as Debian's) picks its kernels
// once, when the library loads, from the CPU model; a model newer than the
// library is taken for an old one. Debian 12's 0.3.21 runs an Emerald Rapids
// (family 6, model 207) on its generic "Prescott" kernels: SGEMM at a sixth of
// the SkylakeX kernels' rate. The choice is fixed at load time, so the fix is
// to start the program again with OPENBLAS_CORETYPE set (ensure_blas_core).
#pragma once
#include <string>

#include "util/cpu_features.hpp"

namespace ctscope::linalg {

// The kernel family OpenBLAS uses in this process (openblas_get_corename()).
std::string blas_core();

// What to do about the core, decided from the facts alone (tests call this).
struct BlasCorePlan {
  enum class Action {
    keep,               // the core suits the CPU, or is one ctscope does not know: leave it
    restart,            // OpenBLAS fell back: run again with OPENBLAS_CORETYPE=best
    user_choice,        // the user set OPENBLAS_CORETYPE: respected, whatever it is
    restarted,          // this process is the corrected run
  };
  Action action = Action::keep;
  std::string best;     // the family to ask for (restart), "" otherwise
  std::string note;     // one line for verbose output
};

// chosen: openblas_get_corename(); user_coretype: OPENBLAS_CORETYPE as the user
// set it (nullptr: unset); corrected_from: the guard a restart leaves
// (CTSCOPE_BLAS_CORE_CORRECTED, the core OpenBLAS had chosen; nullptr: none).
BlasCorePlan plan_blas_core(const std::string& chosen, const CpuFeatures& cpu, const char* user_coretype,
                            const char* corrected_from);

// The plan for this process, from its environment. CTSCOPE_SIMULATE_BLAS_FALLBACK=1
// makes an OPENBLAS_CORETYPE count as OpenBLAS's own choice rather than the
// user's: tests and benchmarks force a generic core that way (=Prescott) to
// see the correction on any CPU.
BlasCorePlan blas_core_plan();

// At the top of main(), before any BLAS call: where OpenBLAS fell back, runs
// this program again (execv of /proc/self/exe, the same argv) with
// OPENBLAS_CORETYPE set and the guard against a second restart; returns only
// when nothing is to be done or the restart failed. Returns the note for
// verbose output.
std::string ensure_blas_core(char** argv);

}  // namespace ctscope::linalg
