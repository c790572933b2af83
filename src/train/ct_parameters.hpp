// The parameter set of amplitude training: every matrix `compress` would fit
// (the same selection, basis and K) becomes W = A G, starting from the
// least-squares amplitudes `compress` stores — so step 0 runs the model
// `eval` runs on the .ct.safetensors. Fixed bases (gaussian, dct, random) are
// shared per row length and frozen; an svd basis (per matrix) and a universal
// basis and offset (per row length) are trainable when train_basis is set.
// With norms, every RMSNorm weight is trained too (amplitudes+norms). The
// amplitude modes of start_parameters (trainable.hpp), kept as a shorthand.
#pragma once
#include <cstdint>

#include "ctfile/ct_writer.hpp"
#include "io/checkpoint.hpp"
#include "train/parameter_set.hpp"

namespace ctscope::train {

struct CtTrainSettings {
  ctfile::CompressSettings fit;  // what compress fits (selection, basis, K, seed); its vocabulary is unused
  bool norms = false;
  bool train_basis = false;
};

// From a dense checkpoint (a .ct.safetensors is an Error, as for compress).
ParameterSet<float> ct_parameter_set(const Checkpoint& ck, const CtTrainSettings& s);

}  // namespace ctscope::train
