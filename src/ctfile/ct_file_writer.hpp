// The one writer of .ct.safetensors files (ct_format.hpp), shared by
// `compress` (least-squares fits of a dense model, ct_writer) and training (a
// trained model, train/trained_model_file): the file's plan from the source's
// tensor list — universal bases first, then every source tensor in order, as
// its amplitudes (+ svd basis) or whole, then the carried vocabulary — and the
// metadata a reader rebuilds the source from. The caller hands over the values
// piece by piece, in file order (CtPieces), so compress fits one matrix at a
// time. Nothing in the file depends on when it was written: the same pieces
// give the same bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ctfile/ct_writer.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::ctfile {

// Where the values come from. Calls come in file order; a span returned by
// unfitted() need only live until the next call.
class CtPieces {
 public:
  struct Fitted {
    std::vector<float> A;      // [rows, K]
    std::vector<float> basis;  // svd: the matrix's own [K, d]; empty for every other basis
  };
  struct Universal {
    std::vector<float> basis, offset;  // [K, d], [d]
  };
  virtual ~CtPieces() = default;
  // Source tensor t is stored as amplitudes (metadata fitted = true).
  virtual bool fitted(const TensorInfo& t) const = 0;
  // The dtype an unfitted tensor is stored in: the source's when copied
  // verbatim, F32 when its values changed (the metadata keeps the source's).
  virtual DType unfitted_dtype(const TensorInfo& t) const { return t.dtype; }
  // The row lengths whose universal basis the file stores (universal only).
  virtual std::vector<int64_t> universal_row_lengths() const { return {}; }
  virtual Universal universal(int64_t d) = 0;
  virtual Fitted fit(const TensorInfo& t) = 0;
  virtual std::span<const std::byte> unfitted(const TensorInfo& t) = 0;
};

struct CtFileWritten {
  uint64_t file_bytes = 0;
  uint64_t vocab_tokens = 0;  // of the carried vocabulary; 0: none carried
};

// Error when `out` is one of the source's files (writing it would destroy the input).
void check_not_an_input(const std::filesystem::path& out, const Checkpoint& source);

// Writes `out` atomically from source's tensor list and s (basis, K, seed,
// vocabulary; the selection is the pieces' business), read back (CtReader)
// before it takes its name; `out` may not be a source file. extra_metadata: more __metadata__ keys (e.g. how a
// trained file was trained); they may not replace the format's own.
CtFileWritten write_ct_file(const Checkpoint& source, const CompressSettings& s, CtPieces& pieces,
                            const std::filesystem::path& out,
                            const std::map<std::string, std::string>& extra_metadata = {});

}  // namespace ctscope::ctfile
