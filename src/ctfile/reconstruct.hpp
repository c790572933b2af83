// `ctscope reconstruct`: a .ct.safetensors back to a dense Hugging Face
// checkpoint any tool can load.
#pragma once
#include <filesystem>
#include <string>

#include "ctfile/ct_reader.hpp"
#include "util/progress.hpp"

namespace ctscope::ctfile {

// What reconstruct wrote besides the weights.
struct ReconstructSummary {
  bool tokenizer = false;    // tokenizer.model written
  std::string tokenizer_note;  // why not, when the file carries a vocabulary that is not SentencePiece-style
};

// Writes config.json + model.safetensors in the source dtype (F32 where the
// source was quantized), atomically. Tensors of GGUF/llama2.c sources get
// their Hugging Face names and q/k rows permuted to the HF layout. The
// vocabulary the file carries becomes tokenizer.model (tokenizer_model_file.hpp),
// which ctscope finds in the directory by itself.
ReconstructSummary reconstruct_checkpoint(const CtReader& c, const std::filesystem::path& out_dir, bool force,
                                          const ProgressFn& progress = {});

}  // namespace ctscope::ctfile
