// Reading a .ct.safetensors (ct_format.hpp): its metadata validated up front,
// the original tensors rebuilt on demand (W_hat = A B).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ct/basis.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::ctfile {

// The checkpoint's safetensors metadata says format=ctscope-ct.
bool is_ct_file(const Checkpoint& ck);

// Commands that measure or compress dense weights call this first: a
// .ct.safetensors is an Error naming the file, saying that its matrices are
// amplitudes and what to run instead (`instead`, one clause), e.g.
// require_dense(ck, "analyze", "analyze the source model, or ...").
void require_dense(const Checkpoint& ck, std::string_view command, std::string_view instead);

// A .ct.safetensors opened for reading: the original tensors, reconstructed on demand.
class CtReader {
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

  explicit CtReader(Checkpoint ck);  // validates metadata; throws Error naming the file

  const ModelConfig& config() const { return config_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& source_format() const { return source_format_; }
  const std::string& source_path() const { return source_path_; }  // as compress was given it; may be empty
  int format_version() const { return format_version_; }
  uint64_t seed() const { return seed_; }
  // The vocabulary the file carries (ct_vocab.hpp), if any.
  const std::optional<Vocabulary>& vocabulary() const { return vocab_; }
  ct::BasisKind basis() const { return basis_; }
  int K() const { return K_; }
  const Checkpoint& file() const { return ck_; }
  const Entry* find(int layer, Role role) const;
  // float32 values of an original tensor: W_hat = A B (+ offset) for fitted ones.
  std::vector<float> tensor_f32(const Entry& e) const;

 private:
  Checkpoint ck_;
  ModelConfig config_;
  std::vector<Entry> entries_;
  std::string source_format_, source_path_;
  int format_version_ = 0;
  std::optional<Vocabulary> vocab_;
  ct::BasisKind basis_ = ct::BasisKind::Gaussian;
  int K_ = 0;
  uint64_t seed_ = 0;
  mutable std::map<std::pair<int64_t, int>, ct::FactoredBasis> fixed_;  // (d, K) -> basis
};

}  // namespace ctscope::ctfile
