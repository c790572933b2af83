#include "report/checkpoint_report.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_vocab.hpp"
#include "util/format.hpp"

namespace ctscope::report {

namespace {

using ctfile::CtReader;

nlohmann::json config_json(const ModelConfig& c) {
  return {{"architecture", c.architecture}, {"dim", c.dim}, {"hidden_dim", c.hidden_dim},
          {"n_layers", c.n_layers}, {"n_heads", c.n_heads}, {"n_kv_heads", c.n_kv_heads},
          {"vocab_size", c.vocab_size}, {"max_seq_len", c.max_seq_len}, {"norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta}, {"tie_embeddings", c.tie_embeddings},
          {"rope_layout", c.rope == RopeLayout::HalfSplit ? "half_split" : "interleaved"}};
}

std::string config_line(const ModelConfig& c) {
  return fmt::format("config: dim {}  hidden {}  layers {}  heads {}  kv_heads {}  vocab {}  seq_len {}  rope {} ({})  "
                     "norm_eps {}  tied {}\n",
                     c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_seq_len,
                     c.rope_theta, c.rope == RopeLayout::HalfSplit ? "half-split" : "interleaved", c.norm_eps,
                     c.tie_embeddings ? "yes" : "no");
}

uint64_t numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t s : shape) n *= static_cast<uint64_t>(s);
  return n;
}

// How a source tensor is kept in a .ct.safetensors.
std::string stored_as(const CtReader::Entry& e) {
  if (!e.alias_of.empty()) return "alias";
  return e.fitted ? "fitted" : "dense";
}

// What a .ct.safetensors holds, beyond its raw tensors: the source model and how each of its tensors is kept.
struct CtSummary {
  size_t fitted = 0, dense = 0, aliases = 0;
  uint64_t source_params = 0;
};
CtSummary summarize(const CtReader& c) {
  CtSummary s;
  for (const auto& e : c.entries()) {
    if (!e.alias_of.empty()) {
      ++s.aliases;
      continue;
    }
    ++(e.fitted ? s.fitted : s.dense);
    s.source_params += numel(e.shape);
  }
  return s;
}

nlohmann::json ct_json(const CtReader& c) {
  const CtSummary s = summarize(c);
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& e : c.entries()) {
    nlohmann::json jt = {{"name", e.name}, {"role", role_name(e.role)},
                         {"layer", e.layer >= 0 ? nlohmann::json(e.layer) : nlohmann::json(nullptr)},
                         {"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"params", numel(e.shape)},
                         {"stored", stored_as(e)}};
    if (!e.alias_of.empty()) jt["alias_of"] = e.alias_of;
    tensors.push_back(std::move(jt));
  }
  nlohmann::json vocab = nullptr;
  if (const auto& v = c.vocabulary()) {
    auto src = c.file().metadata.find(ctfile::kVocabSourceKey);
    vocab = {{"model", v->model}, {"tokens", v->tokens.size()},
             {"source", src != c.file().metadata.end() ? nlohmann::json(src->second) : nlohmann::json(nullptr)}};
  }
  return {{"format_version", c.format_version()}, {"basis", ct::basis_name(c.basis())}, {"K", c.K()},
          {"seed", c.seed()}, {"source_format", c.source_format()},
          {"source_path", c.source_path().empty() ? nlohmann::json(nullptr) : nlohmann::json(c.source_path())},
          {"source_params", s.source_params}, {"fitted", s.fitted}, {"dense", s.dense}, {"aliases", s.aliases},
          {"vocabulary", vocab}, {"source_tensors", tensors}};
}

std::string ct_text(const Checkpoint& ck, const CtReader& c) {
  const CtSummary s = summarize(c);
  std::string o;
  size_t w = 4;
  for (const auto& e : c.entries()) w = std::max(w, e.name.size());
  o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}  {}\n", "name", w, "role", "layer", "dtype", "shape",
                   "params", "stored");
  for (const auto& e : c.entries())
    o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}  {}\n", e.name, w, role_name(e.role),
                     e.layer >= 0 ? std::to_string(e.layer) : "-", dtype_name(e.dtype), shape_str(e.shape),
                     with_commas(numel(e.shape)),
                     e.alias_of.empty() ? stored_as(e) : "alias (= " + e.alias_of + ")");
  o += fmt::format("\n{}: CT-compressed model (ctscope-ct v{}), {} basis, K {}, seed {}\n", ck.path.string(),
                   c.format_version(), ct::basis_name(c.basis()), c.K(), c.seed());
  o += fmt::format("source: {} {} ({} parameters)\n", c.source_format(),
                   c.source_path().empty() ? "(path not recorded)" : c.source_path(), with_commas(s.source_params));
  o += fmt::format("tensors: {} fitted (each row as {} amplitudes), {} stored dense{}\n", s.fitted, c.K(), s.dense,
                   s.aliases ? fmt::format(", {} alias", s.aliases) : "");
  o += fmt::format("file: {} stored tensors, {} parameters, {:.1f} MB\n", ck.tensors.size(),
                   with_commas(ck.total_params()), static_cast<double>(ck.total_bytes()) / 1e6);
  o += config_line(c.config());
  if (const auto& v = c.vocabulary())
    o += fmt::format("vocabulary: {} tokens ({}), carried in the file\n", v->tokens.size(), v->model);
  else
    o += "vocabulary: none carried (generate/eval need --tokenizer)\n";
  return o;
}

}  // namespace

nlohmann::json checkpoint_json(const Checkpoint& ck) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : ck.tensors) {
    nlohmann::json jt = {{"name", t.name}, {"role", role_name(t.role)},
                         {"layer", t.layer >= 0 ? nlohmann::json(t.layer) : nlohmann::json(nullptr)},
                         {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"params", t.numel()},
                         {"bytes", t.nbytes}, {"file", ck.files.at(static_cast<size_t>(t.file))->path()},
                         {"offset", t.offset}};
    if (!t.alias_of.empty()) jt["alias_of"] = t.alias_of;
    tensors.push_back(std::move(jt));
  }
  // A .ct.safetensors: "config" and "vocab_tokens" are the source model's, and
  // "ct" says how each source tensor is kept; "tensor_list" stays the file's.
  std::optional<CtReader> ct;
  if (ctfile::is_ct_file(ck)) ct.emplace(ck);
  const ModelConfig& config = ct ? ct->config() : ck.config;
  const std::optional<Vocabulary>& vocab = ct ? ct->vocabulary() : ck.vocab;
  nlohmann::json j = {{"path", ck.path.string()}, {"format", format_name(ck.format)},
                      {"tensors", ck.tensors.size()}, {"total_params", ck.total_params()},
                      {"total_bytes", ck.total_bytes()}, {"config", config_json(config)},
                      {"vocab_tokens", vocab ? vocab->tokens.size() : 0}, {"tensor_list", tensors}};
  if (ct) j["ct"] = ct_json(*ct);
  return j;
}

std::string checkpoint_text(const Checkpoint& ck) {
  if (ctfile::is_ct_file(ck)) return ct_text(ck, CtReader(ck));
  std::string o;
  size_t w = 4;
  for (const auto& t : ck.tensors) w = std::max(w, t.name.size());
  o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}\n", "name", w, "role", "layer", "dtype", "shape", "params");
  for (const auto& t : ck.tensors) {
    o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}{}\n", t.name, w, role_name(t.role),
               t.layer >= 0 ? std::to_string(t.layer) : "-", dtype_name(t.dtype), shape_str(t.shape),
               with_commas(t.numel()), t.alias_of.empty() ? "" : "  (= " + t.alias_of + ")");
  }
  o += fmt::format("\n{} ({}): {} tensors, {} parameters, {:.1f} MB\n", ck.path.string(), format_name(ck.format),
             ck.tensors.size(), with_commas(ck.total_params()), static_cast<double>(ck.total_bytes()) / 1e6);
  o += config_line(ck.config);
  if (ck.vocab) o += fmt::format("vocabulary: {} tokens ({})\n", ck.vocab->tokens.size(), ck.vocab->model);
  return o;
}

}  // namespace ctscope::report
