#include "ctfile/ct_writer.hpp"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "ct/accounting.hpp"
#include "ct/amplitudes.hpp"
#include "ct/basis_provider.hpp"
#include "ct/stored_matrix.hpp"
#include "ctfile/ct_format.hpp"
#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_vocab.hpp"
#include "io/formats.hpp"
#include "io/safetensors_writer.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace ctscope::ctfile {

namespace {

using ct::BasisKind;
using ct::FactoredBasis;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Metadata must be valid UTF-8 (a safetensors header is JSON), and the reader
// finds tensors by these exact names: no replacement characters here.
std::string strict_json(const nlohmann::json& j, const Checkpoint& ck) {
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error&) {
    fail(ck.path.string(), "a tensor name is not valid UTF-8: it cannot be stored in a .ct.safetensors");
  }
}

// What the file holds: the header's tensor list (universal bases first, then
// every source tensor in order, fitted ones as their amplitudes [+ basis]) and
// the metadata that lets a reader rebuild the source.
struct FilePlan {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// The vocabulary the file carries, with where it came from: the one the
// caller gives, else the source's own; none: {nullptr, ""}.
std::pair<const Vocabulary*, std::string> vocab_to_carry(const Checkpoint& ck, const CompressSettings& s) {
  if (s.vocab) return {&*s.vocab, s.vocab_source};
  if (ck.vocab && !ck.vocab->tokens.empty()) return {&*ck.vocab, ck.path.string()};
  return {nullptr, ""};
}

FilePlan plan_file(const Checkpoint& ck, const CompressSettings& s, const std::map<std::string, const TensorInfo*>& fitted,
                   const std::map<int64_t, const FactoredBasis*>& universal, const VocabTensors* vocab) {
  FilePlan plan;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& [d, b] : universal) {
    plan.entries.push_back({universal_name(d, "basis"), DType::F32, {b->K, d}});
    plan.entries.push_back({universal_name(d, "offset"), DType::F32, {d}});
  }
  for (const auto& t : ck.tensors) {
    nlohmann::json jt = {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}};
    if (!t.alias_of.empty()) {
      jt["alias_of"] = t.alias_of;
      jt["fitted"] = false;
    } else if (fitted.count(t.name)) {
      jt["fitted"] = true;
      plan.entries.push_back({amplitudes_name(t.name), DType::F32, {t.rows(), s.K}});
      if (s.basis == BasisKind::Svd) plan.entries.push_back({basis_tensor_name(t.name), DType::F32, {s.K, t.cols()}});
    } else {
      jt["fitted"] = false;
      plan.entries.push_back({t.name, t.dtype, t.shape});
    }
    tensors.push_back(std::move(jt));
  }
  if (vocab)
    for (auto& e : vocab->entries()) plan.entries.push_back(std::move(e));
  nlohmann::json cfg = to_hf_config(ck.config, "float32");
  cfg[kRopeLayoutKey] = ck.config.rope == RopeLayout::HalfSplit ? "half_split" : "interleaved";
  plan.metadata = {
      {"format", kCtFormat},
      {"format_version", std::to_string(kCtFormatVersion)},
      {"basis", std::string(ct::basis_name(s.basis))},
      {"K", std::to_string(s.K)},
      {"seed", std::to_string(s.seed)},
      {"source_format", std::string(format_name(ck.format))},
      {"source_path", std::filesystem::absolute(ck.path).lexically_normal().string()},
      {"config", strict_json(cfg, ck)},
      {"tensors", strict_json(tensors, ck)},
      {"written_by", version_line()},  // which build made the file (reproducibility)
  };
  if (const auto [v, from] = vocab_to_carry(ck, s); v) {
    plan.metadata[kVocabModelKey] = v->model;
    plan.metadata[kVocabSourceKey] = std::filesystem::absolute(from).lexically_normal().string();
  }
  return plan;
}

}  // namespace

CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress) {
  std::vector<std::filesystem::path> inputs;
  for (const auto& f : ck.files) inputs.emplace_back(f->path());
  check_not_an_input(out, inputs);
  require_dense(ck, "compress", "compress the source model instead");
  const ct::Selection sel = ct::select_tensors(ck, s.selection, s.K);
  ct::require_fittable(sel, {s.K}, ck.path.string());
  const std::vector<const TensorInfo*> matrices = ct::tensors_to_fit(ck, sel);
  std::map<std::string, const TensorInfo*> fitted;
  for (const auto* t : matrices) fitted[t->name] = t;
  ct::BasisProvider bases(ck, matrices, s.seed);
  // Universal bases are stored once per row length d, ahead of the amplitudes.
  std::map<int64_t, const FactoredBasis*> universal;
  if (s.basis == BasisKind::Universal)
    for (const auto* t : matrices)
      if (!universal.count(t->cols()))
        universal[t->cols()] = &bases.get(BasisKind::Universal, s.K, *t, ct::stored_matrix(ck, *t));

  std::optional<VocabTensors> vocab;
  if (const auto [v, from] = vocab_to_carry(ck, s); v) vocab.emplace(*v, from);
  const FilePlan plan = plan_file(ck, s, fitted, universal, vocab ? &*vocab : nullptr);
  SafetensorsWriter w(out, plan.entries, plan.metadata);

  CompressSummary sum;
  sum.skipped = sel.skipped;
  sum.total_params = ck.total_params();
  sum.source_bytes = ck.total_bytes();
  std::vector<ct::FittedShape> shapes;
  for (const auto* t : matrices) shapes.push_back({t->rows(), t->cols()});
  const ct::CtStorage storage = ct::ct_storage(s.basis, s.K, shapes, sum.total_params);
  sum.stored_params = storage.params();
  sum.amplitude_params = storage.amplitude_params;

  for (const auto& [d, b] : universal) {
    auto B = to_float(b->B), off = to_float(b->offset);
    w.write(universal_name(d, "basis"), B.data(), B.size() * 4);
    w.write(universal_name(d, "offset"), off.data(), off.size() * 4);
  }
  double bytes = 0;
  for (const auto& t : ck.tensors) {
    if (!t.alias_of.empty()) continue;
    if (!fitted.count(t.name)) {
      auto raw = ck.bytes(t);
      w.write(t.name, raw.data(), raw.size());
      ck.release(t);
      continue;
    }
    const FactoredBasis& b = bases.get(s.basis, s.K, t, ct::stored_matrix(ck, t));
    const ct::RowFit f = ct::fit_rows(ct::stored_matrix(ck, t), b);  // the fit quality of exactly what is stored
    if (std::isfinite(f.sse)) {
      sum.sse += f.sse;
      sum.sst += f.sst;
    }
    w.write(amplitudes_name(t.name), f.A.data(), f.A.size() * 4);
    if (s.basis == BasisKind::Svd) {
      auto B = to_float(b.B);
      w.write(basis_tensor_name(t.name), B.data(), B.size() * 4);
    }
    sum.fitted_params += t.numel();
    sum.fitted_rows += static_cast<uint64_t>(t.rows());
    ++sum.fitted_matrices;
    ck.release(t);
    bytes += static_cast<double>(t.nbytes);
    if (progress) progress(sum.fitted_matrices, fitted.size(), t.name, bytes);
  }
  if (vocab) {
    vocab->write(w);
    sum.vocab_tokens = vocab_to_carry(ck, s).first->tokens.size();
  }
  // What ctscope writes, ctscope must read: the finished file is read back
  // before it takes the output's name.
  w.commit([&](const std::filesystem::path& written) {
    try {
      CtReader check(open_safetensors_file(written));
    } catch (const Error& e) {
      fail(out.string(), "not written: the file would not read back ({})", e.what());
    }
  });
  sum.file_bytes = w.file_size();  // out may be a pipe (-o -, a FIFO): no size to ask for
  return sum;
}

}  // namespace ctscope::ctfile
