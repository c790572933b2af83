#include <algorithm>
#include <cstdlib>

#include "dist/distributed_analysis.hpp"

namespace ctscope::dist {

int launched_ranks() {
  // OpenMPI's mpirun, then Hydra's (MPICH).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  return 0;
}

}  // namespace ctscope::dist
