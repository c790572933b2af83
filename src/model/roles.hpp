// Tensor roles in Hugging Face Llama names, so the same weights in different
// formats (safetensors, GGUF, llama2.c) line up under one (layer, role).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ctscope {

enum class Role {
  QProj, KProj, VProj, OProj, GateProj, UpProj, DownProj,
  EmbedTokens, LmHead, InputLayernorm, PostAttentionLayernorm, Norm, Other
};

std::string_view role_name(Role r);           // "q_proj", ..., "other"
std::optional<Role> role_from_name(std::string_view hf_role);

struct TensorRole {
  int layer = -1;  // -1: outside the transformer blocks
  Role role = Role::Other;
};

// Recognizes Hugging Face ("model.layers.3.self_attn.q_proj.weight"),
// GGUF ("blk.3.attn_q.weight") and Meta/llama2.c ("layers.3.attention.wq.weight") names.
TensorRole classify_tensor(std::string_view name);

// The Hugging Face name for (layer, role), e.g. for reconstructing a dense checkpoint.
std::string hf_tensor_name(int layer, Role role);
// The GGUF (llama.cpp) name for (layer, role), e.g. "blk.3.attn_q.weight"; "" for Role::Other.
std::string gguf_tensor_name(int layer, Role role);

}  // namespace ctscope
