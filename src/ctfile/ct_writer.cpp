#include "ctfile/ct_writer.hpp"

#include <cmath>
#include <map>

#include "ct/accounting.hpp"
#include "ct/amplitudes.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "ctfile/ct_file_writer.hpp"
#include "ctfile/ct_reader.hpp"
#include "util/error.hpp"

namespace ctscope::ctfile {

namespace {

using ct::BasisKind;
using ct::FactoredBasis;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// compress's pieces: each selected matrix fitted by least squares when its
// turn comes (the fit quality summed as it goes), every other tensor verbatim.
class LeastSquaresPieces : public CtPieces {
 public:
  LeastSquaresPieces(const Checkpoint& ck, const CompressSettings& s, const std::vector<const TensorInfo*>& matrices,
                     CompressSummary& sum, const ProgressFn& progress)
      : ck_(ck), s_(s), matrices_(matrices), bases_(ck, matrices, s.seed), sum_(sum), progress_(progress) {
    for (const auto* t : matrices) fitted_[t->name] = t;
  }

  bool fitted(const TensorInfo& t) const override { return fitted_.count(t.name) > 0; }

  std::vector<int64_t> universal_row_lengths() const override {
    return s_.basis == BasisKind::Universal ? bases_.row_lengths() : std::vector<int64_t>{};
  }

  Universal universal(int64_t d) override {
    for (const TensorInfo* t : matrices_)
      if (t->cols() == d) {
        const FactoredBasis& b = bases_.get(BasisKind::Universal, s_.K, *t, ct::stored_matrix(ck_, *t));
        return {to_float(b.B), to_float(b.offset)};
      }
    throw Error(fmt::format("no fitted matrix has rows of length {}", d));
  }

  Fitted fit(const TensorInfo& t) override {
    const FactoredBasis& b = bases_.get(s_.basis, s_.K, t, ct::stored_matrix(ck_, t));
    ct::RowFit f = ct::fit_rows(ct::stored_matrix(ck_, t), b);  // the fit quality of exactly what is stored
    if (std::isfinite(f.sse)) {
      sum_.sse += f.sse;
      sum_.sst += f.sst;
    }
    sum_.fitted_params += t.numel();
    sum_.fitted_rows += static_cast<uint64_t>(t.rows());
    ++sum_.fitted_matrices;
    bytes_ += static_cast<double>(t.nbytes);
    if (progress_) progress_(sum_.fitted_matrices, fitted_.size(), t.name, bytes_);
    return {std::move(f.A), s_.basis == BasisKind::Svd ? to_float(b.B) : std::vector<float>{}};
  }

  std::span<const std::byte> unfitted(const TensorInfo& t) override { return ck_.bytes(t); }

 private:
  const Checkpoint& ck_;
  const CompressSettings& s_;
  std::vector<const TensorInfo*> matrices_;
  ct::BasisProvider bases_;
  std::map<std::string, const TensorInfo*> fitted_;
  CompressSummary& sum_;
  const ProgressFn& progress_;
  double bytes_ = 0;
};

}  // namespace

CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress) {
  check_not_an_input(out, ck);
  require_dense(ck, "compress", "compress the source model instead");
  const ct::Selection sel = ct::select_tensors(ck, s.selection, s.K);
  ct::require_fittable(sel, {s.K}, ck.path.string());
  const std::vector<const TensorInfo*> matrices = ct::tensors_to_fit(ck, sel);

  CompressSummary sum;
  sum.skipped = sel.skipped;
  sum.total_params = ck.total_params();
  sum.source_bytes = ck.total_bytes();
  std::vector<ct::FittedShape> shapes;
  for (const auto* t : matrices) shapes.push_back({t->rows(), t->cols()});
  const ct::CtStorage storage = ct::ct_storage(s.basis, s.K, shapes, sum.total_params);
  sum.stored_params = storage.params();
  sum.amplitude_params = storage.amplitude_params;

  LeastSquaresPieces pieces(ck, s, matrices, sum, progress);
  const CtFileWritten written = write_ct_file(ck, s, pieces, out);
  sum.file_bytes = written.file_bytes;
  sum.vocab_tokens = written.vocab_tokens;
  return sum;
}

}  // namespace ctscope::ctfile
