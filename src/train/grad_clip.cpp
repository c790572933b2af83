#include "train/grad_clip.hpp"

#include <cmath>

namespace ctscope::train {

template <class S>
double grad_norm(const ParameterSet<S>& params) {
  double ss = 0;
  for (const auto& p : params.params())
    for (S g : p.grad) ss += static_cast<double>(g) * g;
  return std::sqrt(ss);
}

template <class S>
double clip_grad_norm(ParameterSet<S>& params, double max_norm) {
  const double norm = grad_norm(params);
  if (max_norm > 0 && norm > max_norm) {
    const auto f = static_cast<S>(max_norm / norm);
    for (auto& p : params.params())
      for (S& g : p.grad) g *= f;
  }
  return norm;
}

template double grad_norm<float>(const ParameterSet<float>&);
template double grad_norm<double>(const ParameterSet<double>&);
template double clip_grad_norm<float>(ParameterSet<float>&, double);
template double clip_grad_norm<double>(ParameterSet<double>&, double);

}  // namespace ctscope::train
