// The teacher of a distillation run: the runtime model (LlamaModel) of the
// teacher's weights, run on each sequence of a batch from position 0 as eval
// runs a chunk, its logits kept in one buffer [B*T, vocab] planned once.
//
// Why the runtime model and not a training forward of the teacher: the
// teacher needs no backward, so nothing per layer has to be kept. The runtime
// holds a KV cache of T positions and the scratch of one sequence; a
// train_forward would hold every activation of every layer for the whole batch
// (plan_activations: at TinyLlama shapes, ctx 512, B = 1, about 2 GB). And its
// logits are the very ones eval's --ref compares against, so the KL a run
// reports is eval's kl_mean on the same windows.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/llama_model.hpp"
#include "train/train_step.hpp"

namespace ctscope::train {

class Teacher {
 public:
  // For batches of B sequences of T tokens of a student of `student_vocab`
  // tokens, with the KL term's weight. Error naming `where` (the teacher's
  // file) if the vocabularies differ or the weight is negative or not finite.
  Teacher(std::shared_ptr<const LlamaWeights> weights, int64_t student_vocab, int64_t B, int64_t T, double weight,
          const std::string& where);

  // The teacher's logits for inputs [B*T] (valid until the next call) and the weight.
  Distillation<float> operator()(std::span<const int32_t> inputs);
  // As train_step and train_run take it; refers to this object.
  TeacherFn<float> fn() {
    return [this](std::span<const int32_t> inputs) { return (*this)(inputs); };
  }

  double weight() const { return weight_; }
  // Bytes of the logits buffer and the model's KV cache (besides the weights).
  uint64_t bytes() const;

 private:
  LlamaModel model_;
  int64_t B_, T_;
  double weight_;
  std::vector<float> logits_;
};

}  // namespace ctscope::train
