#include "report/checkpoint_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "util/format.hpp"

namespace ctscope::report {

namespace {

nlohmann::json config_json(const ModelConfig& c) {
  return {{"architecture", c.architecture}, {"dim", c.dim}, {"hidden_dim", c.hidden_dim},
          {"n_layers", c.n_layers}, {"n_heads", c.n_heads}, {"n_kv_heads", c.n_kv_heads},
          {"vocab_size", c.vocab_size}, {"max_seq_len", c.max_seq_len}, {"norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta}, {"tie_embeddings", c.tie_embeddings},
          {"rope_layout", c.rope == RopeLayout::HalfSplit ? "half_split" : "interleaved"}};
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
  return {{"path", ck.path.string()}, {"format", format_name(ck.format)},
          {"tensors", ck.tensors.size()}, {"total_params", ck.total_params()},
          {"total_bytes", ck.total_bytes()}, {"config", config_json(ck.config)},
          {"vocab_tokens", ck.vocab ? ck.vocab->tokens.size() : 0}, {"tensor_list", tensors}};
}

std::string checkpoint_text(const Checkpoint& ck) {
  std::string o;
  size_t w = 4;
  for (const auto& t : ck.tensors) w = std::max(w, t.name.size());
  o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}\n", "name", w, "role", "layer", "dtype", "shape", "params");
  for (const auto& t : ck.tensors) {
    o += fmt::format("{:<{}}  {:<24}  {:>5}  {:<5}  {:<16}  {:>14}{}\n", t.name, w, role_name(t.role),
               t.layer >= 0 ? std::to_string(t.layer) : "-", dtype_name(t.dtype), shape_str(t.shape),
               with_commas(t.numel()), t.alias_of.empty() ? "" : "  (= " + t.alias_of + ")");
  }
  const auto& c = ck.config;
  o += fmt::format("\n{} ({}): {} tensors, {} parameters, {:.1f} MB\n", ck.path.string(), format_name(ck.format),
             ck.tensors.size(), with_commas(ck.total_params()), static_cast<double>(ck.total_bytes()) / 1e6);
  o += fmt::format("config: dim {}  hidden {}  layers {}  heads {}  kv_heads {}  vocab {}  seq_len {}  rope {} ({})  "
             "norm_eps {}  tied {}\n",
             c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_seq_len, c.rope_theta,
             c.rope == RopeLayout::HalfSplit ? "half-split" : "interleaved", c.norm_eps,
             c.tie_embeddings ? "yes" : "no");
  if (ck.vocab) o += fmt::format("vocabulary: {} tokens ({})\n", ck.vocab->tokens.size(), ck.vocab->model);
  return o;
}

}  // namespace ctscope::report
