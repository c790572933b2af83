// `ctscope compress`: fit the selected matrices of a checkpoint in one basis
// and write the .ct.safetensors file (ct_format.hpp), one tensor at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "ct/basis.hpp"
#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "util/progress.hpp"

namespace ctscope::ctfile {

struct CompressSettings {
  int K = 64;
  ct::BasisKind basis = ct::BasisKind::Gaussian;
  ct::TensorSelection selection;
  uint64_t seed = 0x5eed;  // random basis
};

struct CompressSummary {
  uint64_t source_bytes = 0, file_bytes = 0;
  uint64_t total_params = 0, stored_params = 0, amplitude_params = 0, fitted_params = 0;
  uint64_t fitted_matrices = 0, fitted_rows = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // selected tensors stored dense: (name, reason)
  double sse = 0, sst = 0;  // pooled over fitted matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 0; }
};

// progress: after each fitted matrix.
CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress = {});

}  // namespace ctscope::ctfile
