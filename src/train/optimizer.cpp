#include "train/optimizer.hpp"

#include <cmath>

#include "util/thread_pool.hpp"

namespace ctscope::train {

std::optional<OptimizerKind> optimizer_from_name(std::string_view s) {
  if (s == "adamw") return OptimizerKind::AdamW;
  if (s == "sgd") return OptimizerKind::Sgd;
  return std::nullopt;
}

template <class S>
Optimizer<S>::Optimizer(const OptimizerSettings& s, const ParameterSet<S>& params) : s_(s) {
  for (const auto& p : params.params()) {
    const size_t n = s.kind == OptimizerKind::AdamW && p.trainable ? p.value.size() : 0;
    m_.emplace_back(n, S(0));
    v_.emplace_back(n, S(0));
  }
}

template <class S>
void Optimizer<S>::step(ParameterSet<S>& params, double lr) {
  ++t_;
  // Bias corrections of the moments, which start at zero.
  const double c1 = 1.0 - std::pow(s_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(s_.beta2, static_cast<double>(t_));
  auto& ps = params.params();
  for (size_t i = 0; i < ps.size(); ++i) {
    auto& p = ps[i];
    if (!p.trainable) continue;
    const double decay = p.decay ? s_.weight_decay : 0.0;
    // Every element on its own: split among the workers, the same results.
    const S* grad = p.grad.data();
    S* value = p.value.data();
    S* m1 = m_[i].data();
    S* m2 = v_[i].data();
    const bool sgd = s_.kind == OptimizerKind::Sgd;
    const double b1 = s_.beta1, b2 = s_.beta2, eps = s_.eps;
    parallel_for(std::ssize(p.value), 4096, [&](int64_t j0, int64_t j1, int) {
      if (sgd) {
        for (int64_t j = j0; j < j1; ++j) {
          const double x = value[j];
          value[j] = static_cast<S>(x - lr * (static_cast<double>(grad[j]) + decay * x));
        }
        return;
      }
      for (int64_t j = j0; j < j1; ++j) {
        const double g = grad[j], x = value[j];
        const double m = b1 * m1[j] + (1 - b1) * g;
        const double v = b2 * m2[j] + (1 - b2) * g * g;
        m1[j] = static_cast<S>(m);
        m2[j] = static_cast<S>(v);
        value[j] = static_cast<S>(x - lr * ((m / c1) / (std::sqrt(v / c2) + eps) + decay * x));
      }
    });
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace ctscope::train
