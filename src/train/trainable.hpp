// What a training run trains and where it starts. Every mode starts from the
// CT-compressed model `eval` runs on compress's .ct.safetensors (the same
// selection, basis, K and least-squares amplitudes), or from an existing
// .ct.safetensors (init: its amplitudes and stored bases, and its unfitted
// tensors, e.g. norms trained before, in place of the source's):
//   amplitudes        W = A G for every fitted matrix; A trains (and svd's or
//                     universal's stored basis with train_basis)
//   amplitudes+norms  the same, plus every RMSNorm weight
//   lora:R            every fitted matrix W_hat frozen + LoRA B [n, R], A [R, d]
//                     (B = 0: step 0 is the compressed model)
//   full              every tensor of the model dense (the upper bound)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "ctfile/ct_writer.hpp"
#include "io/checkpoint.hpp"
#include "train/parameter_set.hpp"

namespace ctscope::train {

struct Trainable {
  enum class Kind { Amplitudes, AmplitudesNorms, Lora, Full } kind = Kind::Amplitudes;
  int64_t lora_rank = 0;  // Lora: R >= 1

  // Exactly "amplitudes", "amplitudes+norms", "lora:R" (R a whole number >= 1)
  // or "full"; anything else is an Error listing those forms.
  static Trainable parse(std::string_view s);
  std::string name() const;  // the form parse reads
};

struct StartSettings {
  ctfile::CompressSettings fit;  // what compress fits (selection, basis, K, seed) and the vocabulary to carry
  Trainable trainable;
  std::string init;          // a .ct.safetensors to start from; empty: fit by least squares
  bool train_basis = false;  // amplitude modes: svd's and universal's stored bases train too
  double lora_alpha = 0;     // 0: alpha = rank (scale 1)
  uint64_t lora_seed = 0;    // LoRA A ~ N(0, 1/d), seeded per matrix from this
};

// The parameters of a run on `source` (a dense checkpoint). Errors (one line
// naming the file): a .ct.safetensors as the source; K larger than every
// selected matrix's rows; an init file whose model differs from the source's,
// whose basis, K (or random seed) differ from the settings, or that fits other
// matrices than the settings select; train_basis outside the amplitude modes.
ParameterSet<float> start_parameters(const Checkpoint& source, const StartSettings& s);

// Numbers a file of this variant needs (docs/ct-analysis.md, "Accounting"):
// amplitudes + stored bases + unfitted tensors; lora adds its factors (an
// adapter on the compressed model); full: every parameter of the model.
uint64_t stored_params(const ParameterSet<float>& ps, const Checkpoint& source, const StartSettings& s);

}  // namespace ctscope::train
