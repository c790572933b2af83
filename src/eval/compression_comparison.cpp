#include "eval/compression_comparison.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "runtime/llama_model.hpp"
#include "util/error.hpp"

namespace ctscope {

CompressionComparison compare_variants(const Checkpoint& ck, VariantBuilder& builder,
                                       const std::vector<Variant>& variants, const std::vector<int32_t>& tokens,
                                       const std::string& text_name, const ComparisonSettings& s,
                                       const ProgressFn& progress) {
  if (variants.empty() || variants[0].kind != Variant::Kind::Original)
    throw Error("compare_variants: the first variant must be the original");
  CompressionComparison out;
  out.model = ck.path.string();
  out.text = text_name;
  out.selection = builder.selection().description;
  out.ctx = s.ctx;
  out.fitted_matrices = builder.matrices();
  out.skipped = builder.selection().skipped;
  out.source_bytes = ck.total_bytes();
  for (const auto& v : variants)
    if (v.kind == Variant::Kind::Ct && (out.coverage.empty() || out.coverage.back().K != v.K))
      out.coverage.push_back(builder.coverage(v.K));

  auto ref_weights = std::make_shared<const LlamaWeights>(load_llama_weights(ck));
  LlamaModel ref_model(ref_weights, s.ctx);
  const ChunkLogitsFn ref_fn = chunk_logits(ref_model);
  const double weights_gb = 4.0 * static_cast<double>(ck.total_params()) / 1e9;
  const size_t group = std::max<size_t>(1, static_cast<size_t>(s.max_memory_gb / weights_gb) - 1);

  auto& rows = out.rows;
  for (size_t start = 1; start < variants.size(); start += group) {  // variants[0] is the reference itself
    std::vector<std::unique_ptr<LlamaModel>> models;
    std::vector<ChunkLogitsFn> fns;
    for (size_t i = start; i < std::min(variants.size(), start + group); ++i) {
      if (progress) progress(0, 1, "building " + variants[i].label(), 0);
      auto vw = builder.build(variants[i]);
      rows.push_back({variants[i], vw.matrices, vw.rows, vw.stored_params, vw.stored_bytes, vw.pooled_r2(), {}});
      models.push_back(std::make_unique<LlamaModel>(std::make_shared<const LlamaWeights>(std::move(vw.weights)), s.ctx));
      fns.push_back(chunk_logits(*models.back()));
    }
    const auto res = evaluate_perplexity(
        tokens, s.ctx, static_cast<int32_t>(ck.config.bos_id), ck.config.vocab_size, fns, &ref_fn,
        [&](int m, int64_t c, const ChunkPlan& p, double ppl) {
          if (m == 0 && progress)
            progress(static_cast<size_t>(c + 1), static_cast<size_t>(p.n_chunks), fmt::format("ppl {:.4f}", ppl), 0);
        },
        text_name);
    for (size_t k = 0; k < res.candidates.size(); ++k) rows[rows.size() - res.candidates.size() + k].eval = res.candidates[k];
    if (start == 1) {
      CompressionRow orig{variants[0], 0, 0, ck.total_params(), ck.total_bytes(), 1.0, *res.reference};
      orig.eval.kl_mean = 0;
      orig.eval.kl_p99 = 0;
      orig.eval.top1_agreement = 1;
      rows.insert(rows.begin(), orig);
      out.floors = res.floors;
    }
  }
  return out;
}

}  // namespace ctscope
