// Deterministic synthetic Llama checkpoints in Hugging Face layout (or one GGUF
// file in llama.cpp's layout, quantized if asked), so every
// command can be run and timed at real shapes without downloading a model.
// Weights carry structure, not i.i.d. noise: each matrix is W = Z diag(s) Q^T
// with Z Gaussian, s a power-law spectrum whose exponent falls with depth (the
// weight participation ratio rises with layer, like trained models) and Q a
// random orthogonal matrix.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors_writer.hpp"
#include "model/config.hpp"
#include "util/progress.hpp"

namespace ctscope {

struct SynthPreset {
  std::string name, description;
  ModelConfig config;
};
const std::vector<SynthPreset>& synth_presets();
const SynthPreset& synth_preset(std::string_view name);  // throws Error listing the presets

// The tensors a checkpoint of config `c` holds, in file order, with HF names and
// PyTorch [out, in] shapes (no data is made).
std::vector<SafetensorsEntry> synth_plan(const ModelConfig& c, DType dtype);

// The centered weight participation ratio synth aims at for an n x d matrix of
// `layer` (-1: embedding/classifier): (70 -> 350) * dim/2048 from the first to
// the last layer, capped below what n and d allow.
double synth_target_pr(const ModelConfig& c, int layer, int64_t n, int64_t d);

enum class SynthFormat { Safetensors, Gguf };

struct SynthOptions {
  std::string preset;
  SynthFormat format = SynthFormat::Safetensors;
  DType dtype = DType::BF16;  // safetensors: BF16, F16 or F32; GGUF: also Q8_0, Q4_0, Q4_K (io/gguf_llama.hpp)
  uint64_t seed = 0;
  int64_t layers = 0;         // 0: the preset's; else that many blocks of the preset's shapes (a cut-down 7B)
  uint64_t shard_size = 0;    // 0: one model.safetensors; else shards of at most this many bytes (one tensor may exceed it)
  bool force = false;         // replace an existing checkpoint directory
  ProgressFn progress;       // after each tensor
};

// The config synth writes for `o`: the preset's, with o.layers blocks if given.
ModelConfig synth_config(const SynthOptions& o);

struct SynthResult {
  size_t tensors = 0;
  uint64_t params = 0;
  uint64_t bytes = 0;  // sum of the safetensors files, or the GGUF file's size
  int shards = 1;
  std::map<std::string, size_t> types;  // GGUF: tensors per stored type ("Q4_K": 224, "F32": 65)
};

// Safetensors: writes `out`/config.json + model.safetensors (or shards +
// index). The directory is built beside `out` under a temporary name and
// renamed into place at the end: `out` is complete or absent. GGUF: writes the
// file `out` (atomically) with llama.cpp's names, keys, q/k row order (Meta's
// interleaved RoPE pairs) and block formats. Memory stays bounded by one row panel.
SynthResult synth_checkpoint(const std::filesystem::path& out, const SynthOptions& o);

}  // namespace ctscope
