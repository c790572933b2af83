// The CT-compressed checkpoint (.ct.safetensors): a valid safetensors file that
// holds, per fitted matrix X, its amplitudes "X.ct_amplitudes" [n, K] (and the
// basis "X.ct_basis" [K, d] for the per-matrix svd basis; one
// "ct.universal.d<d>.basis"/".offset" per row length for the universal basis),
// every unfitted tensor verbatim, and __metadata__ with the format version,
// basis, K, seed, each original tensor's name/shape/dtype and the source config.
// Gaussian, dct and random bases are not stored: they follow from (K, d, seed).
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ct/basis.hpp"
#include "ct/model_analysis.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::ct {

inline constexpr const char* kCtFormat = "ctscope-ct";
inline constexpr int kCtFormatVersion = 1;

struct CompressSettings {
  int K = 64;
  BasisKind basis = BasisKind::Gaussian;
  AnalysisSettings selection;  // preset / include / exclude; Ks and bases are ignored
};

struct CompressSummary {
  uint64_t source_bytes = 0, file_bytes = 0;
  uint64_t total_params = 0, stored_params = 0, amplitude_params = 0, fitted_params = 0;
  uint64_t fitted_matrices = 0;
  double sse = 0, sst = 0;  // pooled over fitted matrices
  double pooled_r2() const { return sst > 0 ? 1 - sse / sst : 0; }
};

CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress = {});

// A .ct.safetensors opened for reading: the original tensors, reconstructed on demand.
class CompressedCheckpoint {
 public:
  struct Entry {
    std::string name;
    DType dtype = DType::F32;          // the source dtype
    std::vector<int64_t> shape;
    int layer = -1;
    Role role = Role::Other;
    bool fitted = false;
    std::string alias_of;
  };

  static bool is_compressed(const Checkpoint& ck);
  explicit CompressedCheckpoint(Checkpoint ck);  // validates metadata; throws Error naming the file

  const ModelConfig& config() const { return config_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& source_format() const { return source_format_; }
  BasisKind basis() const { return basis_; }
  int K() const { return K_; }
  const Checkpoint& file() const { return ck_; }
  const Entry* find(int layer, Role role) const;
  // float32 values of an original tensor: W_hat = A B (+ offset) for fitted ones.
  std::vector<float> tensor_f32(const Entry& e) const;

 private:
  Checkpoint ck_;
  ModelConfig config_;
  std::vector<Entry> entries_;
  std::string source_format_;
  BasisKind basis_ = BasisKind::Gaussian;
  int K_ = 0;
  uint64_t seed_ = 0;
  mutable std::map<std::pair<int64_t, int>, FactoredBasis> fixed_;  // (d, K) -> basis
};

// Writes a dense Hugging Face checkpoint (config.json + model.safetensors in the
// source dtype; F32 where the source was quantized). Tensors of GGUF/llama2.c
// sources get their Hugging Face names and q/k rows permuted to the HF layout.
void reconstruct_checkpoint(const CompressedCheckpoint& c, const std::filesystem::path& out_dir, bool force);

}  // namespace ctscope::ct
