#include "cli/training_options.hpp"

#include "cli/command.hpp"
#include "report/run_metadata.hpp"
#include "train/optimizer.hpp"
#include "util/error.hpp"

namespace ctscope::cli {

void add_training_options(CLI::App& sub, TrainingOptions& o) {
  sub.add_option("--train", o.in.train,
                 "training text (tokenized whole, BOS first), or teacher:N: N tokens sampled from --teacher, so no "
                 "corpus is needed")
      ->required();
  sub.add_option("--valid", o.in.valid,
                 "validation text, scored by eval's perplexity rule at --ctx (teacher:N: sampled, with another seed)")
      ->required();
  add_tokenizer_option(sub, o.in.tokenizer);
  add_ctx_option(sub, o.in.ctx);
  sub.add_option("--teacher", o.in.teacher, "the model to distill from (usually the original); also validation's reference");
  sub.add_option("--distill-weight", o.distill_weight,
                 "weight of KL(teacher || student) in the loss (default: 1 with --teacher, else 0)")
      ->check(non_negative_number());
  sub.add_option("--ref", o.in.reference, "the model validation's KL and top-1 are measured against (default: --teacher)");
  auto& r = o.s.run;
  sub.add_option("--steps", r.steps, "optimizer steps")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  sub.add_option("--batch", r.batch, "sequences of --ctx tokens per micro-batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  sub.add_option("--accumulate", r.accumulate, "micro-batches per optimizer step (gradient accumulation)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  sub.add_option("--lr", r.schedule.lr, "peak learning rate")->capture_default_str()->check(positive_number());
  sub.add_option("--min-lr", r.schedule.min_lr, "learning rate at the last step (cosine decay from --lr)")
      ->capture_default_str()
      ->check(non_negative_number());
  sub.add_option("--warmup", r.schedule.warmup, "steps of linear warmup to --lr")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  sub.add_option("--optimizer", o.optimizer, "adamw (decoupled weight decay, bias correction) | sgd")
      ->capture_default_str()
      ->check(CLI::IsMember({"adamw", "sgd"}));
  sub.add_option("--weight-decay", r.optimizer.weight_decay, "decoupled weight decay of matrices (not norms)")
      ->capture_default_str()
      ->check(non_negative_number());
  sub.add_option("--clip", r.clip, "clip the global gradient norm to this (0: no clipping)")
      ->capture_default_str()
      ->check(non_negative_number());
  add_seed_option(sub, o.s.seed, "seed of the order of training windows, of LoRA's init and of teacher samples");
  sub.add_option("--eval-every", o.s.eval_every, "validate every N steps (0: before and after only)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
}

void finish_training_options(TrainingOptions& o) {
  o.s.run.optimizer.kind = *train::optimizer_from_name(o.optimizer);
  o.s.distill_weight = o.distill_weight >= 0 ? o.distill_weight : (o.in.teacher.empty() ? 0.0 : 1.0);
  if (o.s.distill_weight > 0 && o.in.teacher.empty())
    throw Error("--distill-weight: distillation needs --teacher MODEL (usually the original model)");
  o.in.seed = o.s.seed;
}

nlohmann::json training_inputs_json(const FinetuneInputs& in) {
  const auto file = [](const std::string& s) { return teacher_token_count(s) ? std::string() : s; };
  nlohmann::json j = report::eval_inputs_json(file(in.valid), "", in.tokenizer, in.reference);
  j["train"] = file(in.train).empty() ? nlohmann::json() : report::input_json(in.train);
  j["teacher"] = in.teacher.empty() ? nlohmann::json() : report::input_json(in.teacher);
  return j;
}

nlohmann::json training_settings_json(const TrainingOptions& o, const FinetuneData& d) {
  const auto& r = o.s.run;
  return {{"steps", r.steps},
          {"batch", r.batch},
          {"accumulate", r.accumulate},
          {"ctx", o.in.ctx},
          {"lr", r.schedule.lr},
          {"min_lr", r.schedule.min_lr},
          {"warmup", r.schedule.warmup},
          {"optimizer", o.optimizer},
          {"weight_decay", r.optimizer.weight_decay},
          {"clip", r.clip},
          {"seed", o.s.seed},
          {"distill_weight", o.s.distill_weight},
          {"eval_every", o.s.eval_every},
          {"train", o.in.train},
          {"valid", o.in.valid},
          {"train_tokens", d.train_tokens.size()},
          {"valid_tokens", d.valid_tokens.size()}};
}

}  // namespace ctscope::cli
