#include "eval/finetune_comparison.hpp"

#include <cmath>

#include <fmt/format.h>

#include "ct/tensor_selection.hpp"
#include "eval/compression_variants.hpp"
#include "train/trainable.hpp"

namespace ctscope {

int64_t matched_lora_rank(uint64_t amplitude_params, uint64_t lora_params_per_rank) {
  if (lora_params_per_rank == 0) return 1;
  const double r = static_cast<double>(amplitude_params) / static_cast<double>(lora_params_per_rank);
  return std::max<int64_t>(1, std::llround(r));
}

namespace {

// What CT at K fits: the amplitudes' count (sum of n K) and a LoRA's per rank (sum of n + d).
struct FittedCounts {
  uint64_t amplitudes = 0, lora_per_rank = 0;
};
FittedCounts fitted_counts(const Checkpoint& ck, const ct::TensorSelection& selection, int K) {
  FittedCounts c;
  const ct::Selection sel = ct::select_tensors(ck, selection, K);
  for (const TensorInfo* t : ct::tensors_to_fit(ck, sel)) {
    c.amplitudes += static_cast<uint64_t>(t->rows() * K);
    c.lora_per_rank += static_cast<uint64_t>(t->rows() + t->cols());
  }
  return c;
}

struct PlannedRow {
  FinetuneRow row;
  train::StartSettings start;  // trained rows
};

std::vector<PlannedRow> plan_rows(const Checkpoint& ck, const FinetuneCompareSettings& s) {
  std::vector<PlannedRow> plan;
  FinetuneRow original;
  original.variant = original.kind = "original";
  plan.push_back({original, {}});
  FinetuneRow int8;
  int8.variant = "int8 row-absmax";
  int8.kind = "int8";
  plan.push_back({int8, {}});
  for (int K : s.Ks) {
    const auto counts = fitted_counts(ck, s.selection, K);
    if (counts.amplitudes == 0) continue;  // no matrix has rows of length >= K
    auto start = [&](ct::BasisKind basis, train::Trainable trainable) {
      train::StartSettings st;
      st.fit.K = K;
      st.fit.basis = basis;
      st.fit.selection = s.selection;
      st.fit.seed = s.basis_seed;
      st.trainable = trainable;
      st.lora_seed = s.train.seed;
      return st;
    };
    auto row = [&](std::string variant, std::string kind, ct::BasisKind basis, int64_t rank) {
      FinetuneRow r;
      r.variant = std::move(variant);
      r.kind = std::move(kind);
      r.basis = basis;
      r.K = K;
      r.lora_rank = rank;
      return r;
    };
    for (ct::BasisKind b : s.bases)
      plan.push_back({row(fmt::format("{} K={} amplitudes", ct::basis_name(b), K), "amplitudes", b, 0),
                      start(b, {train::Trainable::Kind::Amplitudes, 0})});
    // LoRA and full training start from the least-squares fit in the first basis asked.
    const ct::BasisKind first = s.bases.front();
    if (s.lora) {
      const int64_t rank = matched_lora_rank(counts.amplitudes, counts.lora_per_rank);
      plan.push_back({row(fmt::format("{} K={} LoRA r={}", ct::basis_name(first), K, rank), "lora", first, rank),
                      start(first, {train::Trainable::Kind::Lora, rank})});
    }
    if (s.full)
      plan.push_back({row(fmt::format("{} K={} full", ct::basis_name(first), K), "full", first, 0),
                      start(first, {train::Trainable::Kind::Full, 0})});
  }
  return plan;
}

}  // namespace

FinetuneComparison compare_finetuning(const Checkpoint& ck, const FinetuneData& d, const FinetuneCompareSettings& s,
                                      const FinetuneCompareCallbacks& cb) {
  FinetuneComparison out;
  out.floors = perplexity_floors(d.valid_tokens, d.ctx, ck.config.vocab_size, d.valid_where);
  std::vector<PlannedRow> plan = plan_rows(ck, s);
  VariantBuilder variants(ck, s.selection, s.basis_seed);
  for (size_t i = 0; i < plan.size(); ++i) {
    FinetuneRow& row = plan[i].row;
    if (cb.on_row) cb.on_row(i, plan.size(), row.variant);
    if (row.kind == "original" || row.kind == "int8") {
      const Variant v{row.kind == "original" ? Variant::Kind::Original : Variant::Kind::Int8RowAbsmax, {}, 0};
      VariantWeights w = variants.build(v);
      row.stored_params = row.kind == "original" ? ck.total_params() : w.stored_params;
      row.before = validate(std::make_shared<const LlamaWeights>(std::move(w.weights)), d);
    } else {
      train::ParameterSet<float> params = train::start_parameters(ck, plan[i].start);
      row.stored_params = train::stored_params(params, ck, plan[i].start);
      const FinetuneResult r = finetune(params, d, s.train, {{}, cb.step_progress});
      row.trainable_params = r.trainable_params;
      row.before = r.before;
      row.after = r.after;
      row.log = r.log;
      row.seconds = r.seconds;
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace ctscope
