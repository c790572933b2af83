#include "train/ct_parameters.hpp"

#include "train/trainable.hpp"

namespace ctscope::train {

ParameterSet<float> ct_parameter_set(const Checkpoint& ck, const CtTrainSettings& s) {
  StartSettings start;
  start.fit = s.fit;
  start.trainable.kind = s.norms ? Trainable::Kind::AmplitudesNorms : Trainable::Kind::Amplitudes;
  start.train_basis = s.train_basis;
  return start_parameters(ck, start);
}

}  // namespace ctscope::train
