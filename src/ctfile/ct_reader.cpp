#include "ctfile/ct_reader.hpp"

#include <charconv>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "ct/amplitudes.hpp"
#include "ctfile/ct_format.hpp"
#include "ctfile/ct_vocab.hpp"
#include "util/error.hpp"

namespace ctscope::ctfile {

using ct::basis_from_name;
using ct::BasisKind;
using ct::FactoredBasis;
using ct::factor_basis;
using ct::make_fixed_basis;

bool is_ct_file(const Checkpoint& ck) {
  auto it = ck.metadata.find("format");
  return it != ck.metadata.end() && it->second == kCtFormat;
}

void require_dense(const Checkpoint& ck, std::string_view command, std::string_view instead) {
  if (!is_ct_file(ck)) return;
  const auto get = [&](const char* key) {
    auto it = ck.metadata.find(key);
    return it == ck.metadata.end() ? std::string("?") : it->second;
  };
  const std::string source = get("source_path");
  fail(ck.path.string(),
       "a CT-compressed file ({} basis, K={}{}): its matrices are amplitudes, not weights, so `{}` does not take it; {}",
       get("basis"), get("K"), source == "?" ? "" : ", source " + source, command, instead);
}

namespace {

// A metadata value; Error naming the file when it is absent.
const std::string& metadata(const Checkpoint& ck, const char* key) {
  auto it = ck.metadata.find(key);
  if (it == ck.metadata.end()) fail(ck.path.string(), "metadata key '{}' is missing", key);
  return it->second;
}

// A metadata value that must be exactly a non-negative whole number ("8", not " 8", "8x", "8.5" or "-1").
template <typename T>
T whole_number(const Checkpoint& ck, const char* key) {
  const std::string& v = metadata(ck, key);
  T out{};
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || v[0] == '-' || ec != std::errc() || end != v.data() + v.size())
    fail(ck.path.string(), "metadata {} '{}' is not a whole number", key, v);
  return out;
}

nlohmann::json parse_json(const Checkpoint& ck, const char* key) {
  try {
    return nlohmann::json::parse(metadata(ck, key));
  } catch (const nlohmann::json::exception& e) {
    fail(ck.path.string(), "metadata {} is not valid JSON ({})", key, e.what());
  }
}

// One element of the metadata's tensor list (nlohmann errors are the caller's).
CtReader::Entry parse_entry(const nlohmann::json& jt, const std::string& where) {
  CtReader::Entry e;
  e.name = jt.at("name").get<std::string>();
  auto dt = dtype_from_name(jt.at("dtype").get<std::string>());
  if (!dt) fail(where, "tensor {}: unknown dtype in metadata", e.name);
  e.dtype = *dt;
  e.shape = jt.at("shape").get<std::vector<int64_t>>();
  e.fitted = jt.at("fitted").get<bool>();
  e.alias_of = jt.value("alias_of", "");
  const auto r = classify_tensor(e.name);
  e.layer = r.layer;
  e.role = r.role;
  return e;
}

// Every stored piece of e must be present with a consistent shape (and F32 for fitted pieces).
void check_stored(const Checkpoint& ck, const CtReader::Entry& e, BasisKind basis, int K, const std::string& where) {
  auto need = [&](const std::string& name, std::vector<int64_t> shape) {
    const TensorInfo* t = ck.find(name);
    if (!t) fail(where, "tensor {} is missing", name);
    if (t->shape != shape) fail(where, "tensor {} has an inconsistent shape", name);
    if (e.fitted && t->dtype != DType::F32) fail(where, "tensor {} must be F32", name);
  };
  if (!e.alias_of.empty()) return;
  if (!e.fitted) {
    // As in the source, or F32 (a trained tensor: its values are no longer the source dtype's).
    const TensorInfo* t = ck.find(e.name);
    if (!t || t->shape != e.shape || (t->dtype != e.dtype && t->dtype != DType::F32))
      fail(where, "verbatim tensor {} is missing or inconsistent", e.name);
    return;
  }
  if (e.shape.size() != 2 || e.shape[1] < K) fail(where, "fitted tensor {} has an invalid shape", e.name);
  need(amplitudes_name(e.name), {e.shape[0], K});
  if (basis == BasisKind::Svd) need(basis_tensor_name(e.name), {K, e.shape[1]});
  if (basis == BasisKind::Universal) {
    need(universal_name(e.shape[1], "basis"), {K, e.shape[1]});
    need(universal_name(e.shape[1], "offset"), {e.shape[1]});
  }
}

}  // namespace

CtReader::CtReader(Checkpoint ck) : ck_(std::move(ck)) {
  const std::string where = ck_.path.string();
  if (!is_ct_file(ck_)) fail(where, "not a ctscope .ct.safetensors file (no format={} metadata)", kCtFormat);
  if (metadata(ck_, "format_version") != std::to_string(kCtFormatVersion))
    fail(where, "unsupported format_version {} (this ctscope reads {})", metadata(ck_, "format_version"),
         kCtFormatVersion);
  auto b = basis_from_name(metadata(ck_, "basis"));
  if (!b) fail(where, "unknown basis '{}' in metadata", metadata(ck_, "basis"));
  basis_ = *b;
  K_ = whole_number<int>(ck_, "K");
  seed_ = whole_number<uint64_t>(ck_, "seed");
  if (K_ < 1) fail(where, "metadata K={} is invalid (K >= 1)", K_);
  format_version_ = kCtFormatVersion;
  source_format_ = metadata(ck_, "source_format");
  if (auto it = ck_.metadata.find("source_path"); it != ck_.metadata.end()) source_path_ = it->second;
  vocab_ = read_vocab(ck_);

  const nlohmann::json cfg = parse_json(ck_, "config"), tensors = parse_json(ck_, "tensors");
  config_ = from_hf_config(cfg, where + " (metadata config)");
  const auto rope = cfg.find(kRopeLayoutKey);
  if (rope != cfg.end() && !rope->is_string()) fail(where, "metadata config '{}' must be a string", kRopeLayoutKey);
  config_.rope = rope != cfg.end() && rope->get<std::string>() == "interleaved" ? RopeLayout::Interleaved
                                                                                : RopeLayout::HalfSplit;
  if (!tensors.is_array()) fail(where, "metadata tensors is not a list");
  try {
    for (const auto& jt : tensors) {
      entries_.push_back(parse_entry(jt, where));
      check_stored(ck_, entries_.back(), basis_, K_, where);
    }
  } catch (const nlohmann::json::exception& ex) {
    fail(where, "metadata tensors entry is malformed ({})", ex.what());
  }
  // An alias names a stored tensor directly (compress writes one hop): no
  // chains, so no cycles, and tensor_f32 recurses at most once.
  std::map<std::string, const Entry*> by_name;
  for (const auto& e : entries_) by_name[e.name] = &e;
  for (const auto& e : entries_) {
    if (e.alias_of.empty()) continue;
    auto it = by_name.find(e.alias_of);
    if (it == by_name.end() || !it->second->alias_of.empty())
      fail(where, "tensor {} is an alias of {}, which is not a stored tensor", e.name, e.alias_of);
  }
  if (entries_.empty()) fail(where, "metadata lists no tensors: nothing to rebuild");
  // reconstruct reorders the rows of q/k from Meta's interleaved RoPE layout to
  // Hugging Face's head by head, which needs the config's heads x head_dim rows
  // (a GGUF whose header gives k_proj 0 rows made reconstruct read past them).
  if (config_.rope == RopeLayout::Interleaved)
    for (const auto& e : entries_) {
      if (e.role != Role::QProj && e.role != Role::KProj) continue;
      const int64_t heads = e.role == Role::QProj ? config_.n_heads : config_.n_kv_heads;
      if (e.shape.size() != 2 || e.shape[0] != heads * config_.head_dim())
        fail(where, "tensor {} has {} rows, but the config's {} heads of {} need {}", e.name,
             e.shape.empty() ? 0 : e.shape[0], heads, config_.head_dim(), heads * config_.head_dim());
    }
  // Every tensor in the file is a piece of some entry: nothing stored goes unread.
  std::set<std::string> pieces = vocab_tensor_names(ck_);
  for (const auto& e : entries_) {
    if (!e.alias_of.empty()) continue;
    if (!e.fitted) {
      pieces.insert(e.name);
      continue;
    }
    pieces.insert(amplitudes_name(e.name));
    if (basis_ == BasisKind::Svd) pieces.insert(basis_tensor_name(e.name));
    if (basis_ == BasisKind::Universal) {
      pieces.insert(universal_name(e.shape[1], "basis"));
      pieces.insert(universal_name(e.shape[1], "offset"));
    }
  }
  for (const auto& t : ck_.tensors)
    if (!pieces.count(t.name)) fail(where, "tensor {} is stored but no metadata entry uses it", t.name);
}

const CtReader::Entry* CtReader::find(int layer, Role role) const {
  for (const auto& e : entries_)
    if (e.layer == layer && e.role == role) return &e;
  return nullptr;
}

std::vector<float> CtReader::tensor_f32(const Entry& e) const {
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
  ct::reconstruct(A.data(), n, *b, W.data());
  return W;
}

}  // namespace ctscope::ctfile
