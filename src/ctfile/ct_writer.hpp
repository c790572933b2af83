// `ctscope compress`: fit the selected matrices of a checkpoint in one basis
// and write the .ct.safetensors file (ct_format.hpp), one tensor at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
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
  // The vocabulary to carry (e.g. a llama2.c tokenizer.bin, read by
  // read_llama2c_tokenizer) and where it came from; unset: the source's own
  // vocabulary (GGUF), if it has one.
  std::optional<Vocabulary> vocab;
  std::string vocab_source;
};

struct CompressSummary {
  uint64_t source_bytes = 0, file_bytes = 0;
  uint64_t total_params = 0, stored_params = 0, amplitude_params = 0, fitted_params = 0;
  uint64_t fitted_matrices = 0, fitted_rows = 0;
  uint64_t vocab_tokens = 0;  // of the carried vocabulary; 0: none carried
  std::vector<std::pair<std::string, std::string>> skipped;  // selected tensors stored dense: (name, reason)
  double sse = 0, sst = 0;  // pooled over fitted matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 0; }
};

// progress: after each fitted matrix. A .ct.safetensors as the source is an
// Error (its matrices are amplitudes, not weights).
CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress = {});

}  // namespace ctscope::ctfile
