// The parameter set of amplitude training: every matrix `compress` would fit
// (the same selection, basis and K) becomes W = A G, starting from the
// least-squares amplitudes `compress` stores — so step 0 runs the model
// `eval` runs on the .ct.safetensors. Fixed bases (gaussian, dct, random) are
// shared per row length and frozen; an svd basis (per matrix) and a universal
// basis and offset (per row length) are trainable when train_basis is set.
// With norms, every RMSNorm weight is trained too (amplitudes+norms).
#pragma once
#include <cstdint>

#include "ct/basis.hpp"
#include "ct/tensor_selection.hpp"
#include "io/checkpoint.hpp"
#include "train/parameter_set.hpp"

namespace ctscope::train {

struct CtTrainSettings {
  int K = 64;
  ct::BasisKind basis = ct::BasisKind::Gaussian;
  ct::TensorSelection selection;
  uint64_t seed = 0x5eed;  // random basis, as compress
  bool norms = false;
  bool train_basis = false;
};

// From a dense checkpoint (a .ct.safetensors is an Error, as for compress).
ParameterSet<float> ct_parameter_set(const Checkpoint& ck, const CtTrainSettings& s);

}  // namespace ctscope::train
