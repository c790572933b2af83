// `ctscope reconstruct`: a .ct.safetensors back to a dense Hugging Face
// checkpoint any tool can load.
#pragma once
#include <filesystem>

#include "ctfile/ct_reader.hpp"
#include "util/progress.hpp"

namespace ctscope::ctfile {

// Writes config.json + model.safetensors in the source dtype (F32 where the
// source was quantized), atomically. Tensors of GGUF/llama2.c sources get
// their Hugging Face names and q/k rows permuted to the HF layout.
void reconstruct_checkpoint(const CtReader& c, const std::filesystem::path& out_dir, bool force,
                            const ProgressFn& progress = {});

}  // namespace ctscope::ctfile
