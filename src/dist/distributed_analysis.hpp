// `mpirun -np N ctscope analyze MODEL ...`: the analysis across MPI ranks. The
// only MPI code of ctscope is behind this header (mpi_analysis.cpp; a build
// without MPI, -DCTSCOPE_MPI=OFF, has no_mpi.cpp instead).
//
// How the work is divided: every rank opens the model and plans the same run.
// Rank 0 hands the matrices out one at a time, the most expensive first
// (estimated n d min(n, d): the Gram), to whichever rank asks next, itself
// included (a thread of rank 0 answers the others while it computes); each
// rank streams only the matrices it is given and sends back their records
// (ct/matrix_record_codec: exact bits). Rank 0 keeps the journal and builds
// the result from the records in the run's own order, so every number equals
// a single process's; only timing fields differ. The universal bases' pooled
// Grams are computed by rank i mod N for matrix i and added by rank 0 in
// matrix order (the same sums in the same order: the same bits), then
// broadcast.
#pragma once
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "ct/model_analysis.hpp"
#include "io/checkpoint.hpp"
#include "util/progress.hpp"

namespace ctscope::dist {

// How many ranks the MPI launcher started this process among (from its
// environment); 0 when not started by mpirun. MPI is initialized only then.
int launched_ranks();

struct DistributedRun {
  std::function<Checkpoint()> open_model;  // on every rank; throws Error for a model it cannot use
  ct::AnalysisSettings settings;
  std::string journal;                     // rank 0's --journal; empty: none
  ProgressFn progress;                     // rank 0's
};

// Thrown on every rank when the run fails, after rank 0 has printed the one
// line (naming the rank that failed): every rank exits 2 without printing.
struct FailedElsewhere : std::runtime_error {
  FailedElsewhere() : std::runtime_error("the run failed; rank 0 reports why") {}
};

// Rank 0: the result (as analyze_model gives it); other ranks: nullopt. Errors
// on any rank (model missing or different, more ranks than matrices, a journal
// of another run) end every rank before any output is written.
std::optional<ct::ModelAnalysis> analyze_across_ranks(const DistributedRun& run);

}  // namespace ctscope::dist
