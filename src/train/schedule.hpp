// The learning rate of each step: a linear warmup from lr/warmup to lr over
// `warmup` steps, then a cosine decay to min_lr at the last step (as llm.c).
#pragma once
#include <cstdint>

namespace ctscope::train {

struct Schedule {
  double lr = 1e-3, min_lr = 0.0;
  int64_t warmup = 0, steps = 1;  // steps: the run's total
};

// Learning rate of step 0 .. steps-1.
double learning_rate(const Schedule& s, int64_t step);

}  // namespace ctscope::train
