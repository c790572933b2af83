#include "ct/compressed.hpp"


#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "ct/basis_provider.hpp"
#include "io/safetensors_writer.hpp"
#include "model/rope_permute.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

namespace {

std::string amplitudes_name(const std::string& t) { return t + ".ct_amplitudes"; }
std::string basis_tensor_name(const std::string& t) { return t + ".ct_basis"; }
std::string universal_name(int64_t d, const char* what) { return fmt::format("ct.universal.d{}.{}", d, what); }

nlohmann::json rope_json(RopeLayout r) { return r == RopeLayout::HalfSplit ? "half_split" : "interleaved"; }

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace

CompressSummary compress_checkpoint(const Checkpoint& ck, const CompressSettings& s, const std::filesystem::path& out,
                                    const ProgressFn& progress) {
  AnalysisSettings sel_settings = s.selection;
  sel_settings.Ks = {s.K};
  Selection sel = select_tensors(ck, sel_settings);
  const std::vector<const TensorInfo*> matrices = fitted_data(ck, sel);
  std::map<std::string, const TensorInfo*> fitted;
  for (const auto* t : matrices) fitted[t->name] = t;
  BasisProvider bases(ck, matrices, s.selection.seed);
  auto view_of = [&](const TensorInfo& t) { return MatrixView{t.dtype, ck.bytes(t).data(), t.rows(), t.cols()}; };
  // Universal bases are stored once per row length d, ahead of the amplitudes.
  std::map<int64_t, const FactoredBasis*> universal;
  if (s.basis == BasisKind::Universal)
    for (const auto* t : matrices)
      if (!universal.count(t->cols())) universal[t->cols()] = &bases.get(BasisKind::Universal, s.K, *t, view_of(*t));

  // Plan every output tensor (the header is written first).
  std::vector<SafetensorsEntry> plan;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& [d, b] : universal) {
    plan.push_back({universal_name(d, "basis"), DType::F32, {b->K, d}});
    plan.push_back({universal_name(d, "offset"), DType::F32, {d}});
  }
  for (const auto& t : ck.tensors) {
    nlohmann::json jt = {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}};
    if (!t.alias_of.empty()) {
      jt["alias_of"] = t.alias_of;
      jt["fitted"] = false;
    } else if (fitted.count(t.name)) {
      jt["fitted"] = true;
      plan.push_back({amplitudes_name(t.name), DType::F32, {t.rows(), s.K}});
      if (s.basis == BasisKind::Svd) plan.push_back({basis_tensor_name(t.name), DType::F32, {s.K, t.cols()}});
    } else {
      jt["fitted"] = false;
      plan.push_back({t.name, t.dtype, t.shape});
    }
    tensors.push_back(std::move(jt));
  }

  nlohmann::json cfg = to_hf_config(ck.config, "float32");
  cfg["ctscope_rope_layout"] = rope_json(ck.config.rope);
  std::map<std::string, std::string> meta = {
      {"format", kCtFormat},
      {"format_version", std::to_string(kCtFormatVersion)},
      {"basis", std::string(basis_name(s.basis))},
      {"K", std::to_string(s.K)},
      {"seed", std::to_string(s.selection.seed)},
      {"source_format", std::string(format_name(ck.format))},
      {"source_path", ck.path.string()},
      {"config", cfg.dump()},
      {"tensors", tensors.dump()},
  };
  SafetensorsWriter w(out, plan, meta);

  CompressSummary sum;
  sum.total_params = ck.total_params();
  sum.source_bytes = ck.total_bytes();
  for (const auto& [d, b] : universal) {
    auto B = to_float(b->B), off = to_float(b->offset);
    w.write(universal_name(d, "basis"), B.data(), B.size() * 4);
    w.write(universal_name(d, "offset"), off.data(), off.size() * 4);
    sum.stored_params += B.size() + off.size();
  }
  size_t done = 0;
  double bytes = 0;
  for (const auto& t : ck.tensors) {
    if (!t.alias_of.empty()) continue;
    auto it = fitted.find(t.name);
    if (it == fitted.end()) {
      auto raw = ck.bytes(t);
      w.write(t.name, raw.data(), raw.size());
      sum.stored_params += t.numel();
      ck.release(t);
      continue;
    }
    const FactoredBasis& b = bases.get(s.basis, s.K, t, view_of(t));
    const RowFit f = fit_rows(view_of(t), b);  // amplitudes, and the fit quality of exactly what is stored
    if (std::isfinite(f.sse)) {
      sum.sse += f.sse;
      sum.sst += f.sst;
    }
    w.write(amplitudes_name(t.name), f.A.data(), f.A.size() * 4);
    sum.stored_params += f.A.size();
    sum.amplitude_params += f.A.size();
    if (s.basis == BasisKind::Svd) {
      auto B = to_float(b.B);
      w.write(basis_tensor_name(t.name), B.data(), B.size() * 4);
      sum.stored_params += B.size();
    }
    sum.fitted_params += t.numel();
    ++sum.fitted_matrices;
    ck.release(t);
    bytes += static_cast<double>(t.nbytes);
    if (progress) progress(++done, fitted.size(), t.name, bytes);
  }
  w.commit();
  sum.file_bytes = std::filesystem::file_size(out);
  return sum;
}

bool CompressedCheckpoint::is_compressed(const Checkpoint& ck) {
  auto it = ck.metadata.find("format");
  return it != ck.metadata.end() && it->second == kCtFormat;
}

CompressedCheckpoint::CompressedCheckpoint(Checkpoint ck) : ck_(std::move(ck)) {
  const std::string where = ck_.path.string();
  if (!is_compressed(ck_)) fail(where, "not a ctscope .ct.safetensors file (no format={} metadata)", kCtFormat);
  auto meta = [&](const char* key) -> const std::string& {
    auto it = ck_.metadata.find(key);
    if (it == ck_.metadata.end()) fail(where, "metadata key '{}' is missing", key);
    return it->second;
  };
  if (meta("format_version") != std::to_string(kCtFormatVersion))
    fail(where, "unsupported format_version {} (this ctscope reads {})", meta("format_version"), kCtFormatVersion);
  auto b = basis_from_name(meta("basis"));
  if (!b) fail(where, "unknown basis '{}' in metadata", meta("basis"));
  basis_ = *b;
  try {
    K_ = std::stoi(meta("K"));
    seed_ = std::stoull(meta("seed"));
  } catch (const std::exception&) {
    fail(where, "metadata K/seed are not numbers");
  }
  if (K_ < 1) fail(where, "metadata K={} is invalid", K_);
  source_format_ = meta("source_format");
  nlohmann::json cfg, tensors;
  try {
    cfg = nlohmann::json::parse(meta("config"));
    tensors = nlohmann::json::parse(meta("tensors"));
  } catch (const nlohmann::json::exception& e) {
    fail(where, "metadata config/tensors are not valid JSON ({})", e.what());
  }
  config_ = from_hf_config(cfg, where + " (metadata config)");
  config_.rope = cfg.value("ctscope_rope_layout", "half_split") == "interleaved" ? RopeLayout::Interleaved
                                                                                : RopeLayout::HalfSplit;
  if (!tensors.is_array()) fail(where, "metadata tensors is not a list");
  try {
    for (const auto& jt : tensors) {
      Entry e;
      e.name = jt.at("name").get<std::string>();
      auto dt = dtype_from_name(jt.at("dtype").get<std::string>());
      if (!dt) fail(where, "tensor {}: unknown dtype in metadata", e.name);
      e.dtype = *dt;
      e.shape = jt.at("shape").get<std::vector<int64_t>>();
      e.fitted = jt.at("fitted").get<bool>();
      e.alias_of = jt.value("alias_of", "");
      auto r = classify_tensor(e.name);
      e.layer = r.layer;
      e.role = r.role;
      // Every stored piece must be present with a consistent shape.
      auto need = [&](const std::string& name, std::vector<int64_t> shape) {
        const TensorInfo* t = ck_.find(name);
        if (!t) fail(where, "tensor {} is missing", name);
        if (t->shape != shape) fail(where, "tensor {} has an inconsistent shape", name);
        if (e.fitted && t->dtype != DType::F32) fail(where, "tensor {} must be F32", name);
      };
      if (!e.alias_of.empty()) {
      } else if (e.fitted) {
        if (e.shape.size() != 2 || e.shape[1] < K_) fail(where, "fitted tensor {} has an invalid shape", e.name);
        need(amplitudes_name(e.name), {e.shape[0], K_});
        if (basis_ == BasisKind::Svd) need(basis_tensor_name(e.name), {K_, e.shape[1]});
        if (basis_ == BasisKind::Universal) {
          need(universal_name(e.shape[1], "basis"), {K_, e.shape[1]});
          need(universal_name(e.shape[1], "offset"), {e.shape[1]});
        }
      } else {
        const TensorInfo* t = ck_.find(e.name);
        if (!t || t->shape != e.shape || t->dtype != e.dtype) fail(where, "verbatim tensor {} is missing or inconsistent", e.name);
      }
      entries_.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& ex) {
    fail(where, "metadata tensors entry is malformed ({})", ex.what());
  }
}

const CompressedCheckpoint::Entry* CompressedCheckpoint::find(int layer, Role role) const {
  for (const auto& e : entries_)
    if (e.layer == layer && e.role == role) return &e;
  return nullptr;
}

std::vector<float> CompressedCheckpoint::tensor_f32(const Entry& e) const {
  if (!e.alias_of.empty()) {
    for (const auto& o : entries_)
      if (o.name == e.alias_of) return tensor_f32(o);
    fail(ck_.path.string(), "alias {} points to missing {}", e.name, e.alias_of);
  }
  if (!e.fitted) return ck_.read_f32(*ck_.find(e.name));
  const int64_t n = e.shape[0], d = e.shape[1];
  FactoredBasis stored;
  const FactoredBasis* b = nullptr;
  if (basis_ == BasisKind::Svd || basis_ == BasisKind::Universal) {
    const bool uni = basis_ == BasisKind::Universal;
    auto Bf = ck_.read_f32(*ck_.find(uni ? universal_name(d, "basis") : basis_tensor_name(e.name)));
    std::vector<double> off;
    if (uni) {
      auto o = ck_.read_f32(*ck_.find(universal_name(d, "offset")));
      off.assign(o.begin(), o.end());
    }
    stored = factor_basis(basis_, K_, d, std::vector<double>(Bf.begin(), Bf.end()), std::move(off));
    b = &stored;
  } else {
    auto key = std::make_pair(d, K_);
    auto it = fixed_.find(key);
    if (it == fixed_.end()) it = fixed_.emplace(key, make_fixed_basis(basis_, K_, d, seed_)).first;
    b = &it->second;
  }
  auto A = ck_.read_f32(*ck_.find(amplitudes_name(e.name)));
  std::vector<float> W(static_cast<size_t>(n * d));
  reconstruct(A.data(), n, *b, W.data());
  return W;
}

void reconstruct_checkpoint(const CompressedCheckpoint& c, const std::filesystem::path& out_dir, bool force) {
  const std::string where = out_dir.string();
  std::error_code ec;
  if (std::filesystem::exists(out_dir, ec) && !force) fail(where, "already exists (use --force to replace it)");
  AtomicDir dir(out_dir);

  const bool from_hf = c.source_format() == "safetensors";
  const auto& cfg = c.config();
  auto out_dtype = [](DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32 ? t : DType::F32; };
  auto out_name = [&](const CompressedCheckpoint::Entry& e) {
    if (from_hf || e.role == Role::Other) return e.name;
    return hf_tensor_name(e.layer, e.role);
  };
  std::vector<SafetensorsEntry> plan;
  for (const auto& e : c.entries())
    if (e.alias_of.empty()) plan.push_back({out_name(e), out_dtype(e.dtype), e.shape});
  // "format": "pt" is what transformers expects in a PyTorch checkpoint's metadata.
  SafetensorsWriter w(dir.tmp() / "model.safetensors", plan, {{"format", "pt"}});
  for (const auto& e : c.entries()) {
    if (!e.alias_of.empty()) continue;
    auto f = c.tensor_f32(e);
    const DType dt = out_dtype(e.dtype);
    std::vector<uint8_t> bytes(f.size() * (dt == DType::F32 ? 4 : 2));
    convert_from_f32(dt, f.data(), f.size(), bytes.data());
    // Meta-layout q/k rows (GGUF, llama2.c) to the Hugging Face permuted layout.
    if (cfg.rope == RopeLayout::Interleaved && (e.role == Role::QProj || e.role == Role::KProj)) {
      const int64_t heads = e.role == Role::QProj ? cfg.n_heads : cfg.n_kv_heads;
      bytes = permute_meta_to_hf(bytes.data(), heads, cfg.head_dim(), e.shape[1], dt == DType::F32 ? 4 : 2);
    }
    w.write(out_name(e), bytes.data(), bytes.size());
  }
  w.commit();
  ModelConfig hf = cfg;
  hf.rope = RopeLayout::HalfSplit;
  auto j = to_hf_config(hf, torch_dtype(plan.empty() ? DType::F32 : plan.front().dtype));
  j.erase("ctscope_rope_layout");
  write_file_atomic(dir.tmp() / "config.json", j.dump(2) + "\n");
  dir.commit();
}

}  // namespace ctscope::ct
