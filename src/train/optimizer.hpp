// The update rules: AdamW (Loshchilov & Hutter: Adam's moments with bias
// correction, weight decay decoupled from the gradient and scaled by the
// learning rate, as PyTorch's AdamW and llm.c) and plain SGD (with the same
// decoupled decay). Only trainable parameters move; parameters whose `decay`
// is false (norms, offsets) are not decayed.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "train/parameter_set.hpp"

namespace ctscope::train {

enum class OptimizerKind { AdamW, Sgd };
std::optional<OptimizerKind> optimizer_from_name(std::string_view s);  // "adamw", "sgd"

struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::AdamW;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
};

template <class S>
class Optimizer {
 public:
  Optimizer(const OptimizerSettings& s, const ParameterSet<S>& params);
  // One update of every trainable parameter from its gradient, at learning rate lr.
  void step(ParameterSet<S>& params, double lr);
  int64_t steps() const { return t_; }
  const OptimizerSettings& settings() const { return s_; }
  // The moments, per parameter (empty for frozen ones and for SGD), and the
  // step count t of the bias corrections: the state a resume needs.
  std::vector<std::vector<S>>& first_moments() { return m_; }
  std::vector<std::vector<S>>& second_moments() { return v_; }
  const std::vector<std::vector<S>>& first_moments() const { return m_; }
  const std::vector<std::vector<S>>& second_moments() const { return v_; }
  void restore_steps(int64_t t) { t_ = t; }

 private:
  OptimizerSettings s_;
  int64_t t_ = 0;
  std::vector<std::vector<S>> m_, v_;
};

}  // namespace ctscope::train
