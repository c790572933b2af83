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
    parallel_for(std::ssize(p.value), 4096, [&](int64_t j0, int64_t j1, int) {
      for (auto j = static_cast<size_t>(j0); j < static_cast<size_t>(j1); ++j) {
        const double g = p.grad[j];
        double x = p.value[j];
        if (s_.kind == OptimizerKind::Sgd) {
          x -= lr * (g + decay * x);
        } else {
          const double m = s_.beta1 * m_[i][j] + (1 - s_.beta1) * g;
          const double v = s_.beta2 * v_[i][j] + (1 - s_.beta2) * g * g;
          m_[i][j] = static_cast<S>(m);
          v_[i][j] = static_cast<S>(v);
          x -= lr * ((m / c1) / (std::sqrt(v / c2) + s_.eps) + decay * x);
        }
        p.value[j] = static_cast<S>(x);
      }
    });
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace ctscope::train
