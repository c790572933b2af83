// A build without MPI (-DCTSCOPE_MPI=OFF): analyze runs in one process, and
// refuses to run as one of several mpirun ranks (each would do the whole run).
#include "dist/distributed_analysis.hpp"
#include "util/error.hpp"

namespace ctscope::dist {

std::optional<ct::ModelAnalysis> analyze_across_ranks(const DistributedRun&) {
  throw Error(
      "this ctscope was built without MPI (-DCTSCOPE_MPI=OFF): install libopenmpi-dev and rebuild, or run without mpirun");
}

}  // namespace ctscope::dist
