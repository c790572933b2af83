// Gradient clipping by global norm: the L2 norm over every trainable
// parameter's gradient (summed in double); when it exceeds max_norm all
// gradients are scaled by max_norm / norm, so the direction is kept.
#pragma once
#include "train/parameter_set.hpp"

namespace ctscope::train {

template <class S>
double grad_norm(const ParameterSet<S>& params);

// Returns the norm before clipping; max_norm <= 0 clips nothing.
template <class S>
double clip_grad_norm(ParameterSet<S>& params, double max_norm);

}  // namespace ctscope::train
