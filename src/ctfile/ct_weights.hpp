// Running a CT-compressed model: a .ct.safetensors is a source of LlamaWeights,
// reconstructed one tensor at a time (W_hat = A B), so `eval` and `generate`
// accept it wherever they accept a checkpoint. The runtime itself knows
// nothing of CT: it only sees a WeightSource.
#pragma once
#include <filesystem>

#include "io/checkpoint.hpp"
#include "runtime/llama_weights.hpp"

namespace ctscope::ctfile {

// Checkpoint::open, but a .ct.safetensors gets the source model's config (from
// its metadata) instead of one inferred from the stored shapes, and the
// vocabulary it carries (if any) as its own.
Checkpoint open_for_inference(const std::filesystem::path& path);

// The weights to run: load_llama_weights(ck), or for a .ct.safetensors the
// reconstructed source tensors.
LlamaWeights load_inference_weights(const Checkpoint& ck);

}  // namespace ctscope::ctfile
