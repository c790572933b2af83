// Deterministic synthetic Llama checkpoints in Hugging Face layout, so every
// command can be run and timed at real shapes without downloading a model.
// Weights carry structure, not i.i.d. noise: each matrix is W = Z diag(s) Q^T
// with Z Gaussian, s a power-law spectrum whose exponent falls with depth (the
// weight participation ratio rises with layer, like trained models) and Q a
// random orthogonal matrix.
#pragma once
#include <cstdint>
#include <filesystem>
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

struct SynthOptions {
  std::string preset;
  DType dtype = DType::BF16;  // BF16, F16 or F32
  uint64_t seed = 0;
  uint64_t shard_size = 0;    // 0: one model.safetensors; else shards of at most this many bytes (one tensor may exceed it)
  bool force = false;         // replace an existing checkpoint directory
  ProgressFn progress;       // after each tensor
};

struct SynthResult {
  size_t tensors = 0;
  uint64_t params = 0;
  uint64_t bytes = 0;  // sum of the safetensors files
  int shards = 1;
};

// Writes `out`/config.json + model.safetensors (or shards + index). The
// directory is built beside `out` under a temporary name and renamed into place
// at the end: `out` is complete or absent. Memory stays bounded by one row panel.
SynthResult synth_checkpoint(const std::filesystem::path& out, const SynthOptions& o);

}  // namespace ctscope
