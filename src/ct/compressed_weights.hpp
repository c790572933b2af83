// Running a CT-compressed model: a .ct.safetensors is a source of LlamaWeights,
// reconstructed one tensor at a time (W_hat = A B), so `eval` and `generate`
// accept it wherever they accept a checkpoint.
#pragma once
#include <filesystem>

#include "eval/llama_weights.hpp"
#include "io/checkpoint.hpp"

namespace ctscope::ct {

// Checkpoint::open, but a .ct.safetensors gets the source model's config (from
// its metadata) instead of one inferred from the stored shapes.
Checkpoint open_runnable_checkpoint(const std::filesystem::path& path);

// load_llama_weights, reconstructing fitted matrices of a .ct.safetensors.
LlamaWeights load_runnable_weights(const Checkpoint& ck);

}  // namespace ctscope::ct
