#include "model/roles.hpp"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace ctscope {

namespace {
constexpr std::array<std::string_view, 13> kRoleNames{
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    "embed_tokens", "lm_head", "input_layernorm", "post_attention_layernorm", "norm", "other"};

// Per-layer suffixes in each naming scheme (after "<prefix>.<N>.").
struct Alias { std::string_view suffix; Role role; };
constexpr std::array<Alias, 27> kLayerAliases{{
    // Hugging Face
    {"self_attn.q_proj.weight", Role::QProj}, {"self_attn.k_proj.weight", Role::KProj},
    {"self_attn.v_proj.weight", Role::VProj}, {"self_attn.o_proj.weight", Role::OProj},
    {"mlp.gate_proj.weight", Role::GateProj}, {"mlp.up_proj.weight", Role::UpProj},
    {"mlp.down_proj.weight", Role::DownProj}, {"input_layernorm.weight", Role::InputLayernorm},
    {"post_attention_layernorm.weight", Role::PostAttentionLayernorm},
    // GGUF (llama.cpp)
    {"attn_q.weight", Role::QProj}, {"attn_k.weight", Role::KProj}, {"attn_v.weight", Role::VProj},
    {"attn_output.weight", Role::OProj}, {"ffn_gate.weight", Role::GateProj},
    {"ffn_up.weight", Role::UpProj}, {"ffn_down.weight", Role::DownProj},
    {"attn_norm.weight", Role::InputLayernorm}, {"ffn_norm.weight", Role::PostAttentionLayernorm},
    // Meta / llama2.c
    {"attention.wq.weight", Role::QProj}, {"attention.wk.weight", Role::KProj},
    {"attention.wv.weight", Role::VProj}, {"attention.wo.weight", Role::OProj},
    {"feed_forward.w1.weight", Role::GateProj}, {"feed_forward.w3.weight", Role::UpProj},
    {"feed_forward.w2.weight", Role::DownProj}, {"attention_norm.weight", Role::InputLayernorm},
    {"ffn_norm.weight", Role::PostAttentionLayernorm},
}};
constexpr size_t kFirstGgufAlias = 9;  // the nine GGUF suffixes follow Hugging Face's
constexpr std::array<Alias, 9> kGlobalAliases{{
    {"model.embed_tokens.weight", Role::EmbedTokens}, {"lm_head.weight", Role::LmHead},
    {"model.norm.weight", Role::Norm},
    {"token_embd.weight", Role::EmbedTokens}, {"output.weight", Role::LmHead},
    {"output_norm.weight", Role::Norm},
    {"tok_embeddings.weight", Role::EmbedTokens}, {"norm.weight", Role::Norm},
    {"embed_tokens.weight", Role::EmbedTokens},
}};
constexpr std::array<std::string_view, 3> kLayerPrefixes{"model.layers.", "blk.", "layers."};
}  // namespace

std::string_view role_name(Role r) { return kRoleNames[static_cast<size_t>(r)]; }

std::optional<Role> role_from_name(std::string_view hf_role) {
  for (size_t i = 0; i < kRoleNames.size(); ++i)
    if (kRoleNames[i] == hf_role) return static_cast<Role>(i);
  return std::nullopt;
}

TensorRole classify_tensor(std::string_view name) {
  for (const auto& a : kGlobalAliases)
    if (name == a.suffix) return {-1, a.role};
  for (auto prefix : kLayerPrefixes) {
    if (!name.starts_with(prefix)) continue;
    std::string_view rest = name.substr(prefix.size());
    int layer = -1;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
    if (ec != std::errc() || p == rest.data() + rest.size() || *p != '.' || layer < 0) continue;
    std::string_view suffix(p + 1, static_cast<size_t>(rest.data() + rest.size() - (p + 1)));
    for (const auto& a : kLayerAliases)
      if (suffix == a.suffix) return {layer, a.role};
    return {layer, Role::Other};
  }
  return {};
}

std::string hf_tensor_name(int layer, Role role) {
  switch (role) {
    case Role::EmbedTokens: return "model.embed_tokens.weight";
    case Role::LmHead: return "lm_head.weight";
    case Role::Norm: return "model.norm.weight";
    case Role::Other: return "";
    default: break;
  }
  const auto sv = role_name(role);
  const bool attn = role == Role::QProj || role == Role::KProj || role == Role::VProj || role == Role::OProj;
  const bool mlp = role == Role::GateProj || role == Role::UpProj || role == Role::DownProj;
  return fmt::format("model.layers.{}.{}{}.weight", layer, attn ? "self_attn." : mlp ? "mlp." : "", sv);
}

std::string gguf_tensor_name(int layer, Role role) {
  switch (role) {
    case Role::EmbedTokens: return "token_embd.weight";
    case Role::LmHead: return "output.weight";
    case Role::Norm: return "output_norm.weight";
    case Role::Other: return "";
    default: break;
  }
  for (size_t i = kFirstGgufAlias; i < kFirstGgufAlias + 9; ++i)
    if (kLayerAliases[i].role == role) return fmt::format("blk.{}.{}", layer, kLayerAliases[i].suffix);
  return "";
}

}  // namespace ctscope
