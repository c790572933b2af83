#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ctscope::train {

double learning_rate(const Schedule& s, int64_t step) {
  if (step < s.warmup) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  const int64_t decay_steps = s.steps - 1 - s.warmup;
  if (decay_steps <= 0) return s.lr;
  const double progress = std::clamp(static_cast<double>(step - s.warmup) / static_cast<double>(decay_steps), 0.0, 1.0);
  return s.min_lr + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (s.lr - s.min_lr);
}

}  // namespace ctscope::train
