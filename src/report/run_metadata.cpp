#include "report/run_metadata.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "report/result_file.hpp"
#include "util/file_fingerprint.hpp"
#include "util/version.hpp"

namespace ctscope::report {

namespace {

nlohmann::json fingerprint_json(const FileFingerprint& f) {
  return {{"path", f.path}, {"size_bytes", f.size_bytes}, {"mtime_utc", f.mtime_utc},
          {"fnv1a64", hex64(f.fnv1a64)}, {"hashed_bytes", f.hashed_bytes}};
}

// Every unit-bearing key of every result, said once (exact key names).
const std::map<std::string_view, std::string_view>& glossary() {
  static const std::map<std::string_view, std::string_view> g = [] {
    constexpr std::string_view r2 = "fraction of the centered sum of squares explained (1 = exact, below 0 = worse "
                                    "than the row means)";
    constexpr std::string_view pr = "dimensions (participation ratio)";
    constexpr std::string_view ratio = "ratio (x)";
    constexpr std::string_view params = "parameters (tensor elements)";
    constexpr std::string_view seconds = "seconds";
    constexpr std::string_view kl = "nats per scored token, KL(reference || model)";
    std::map<std::string_view, std::string_view> m;
    for (auto k : {"r2", "r2_svd", "r2_null", "pooled_r2", "pooled_r2_svd", "pooled_r2_null", "mean_r2"}) m[k] = r2;
    for (auto k : {"weight_pr", "weight_pr_sv", "amplitude_pr", "mean_amplitude_pr", "stable_rank"}) m[k] = pr;
    for (auto k : {"compression_paper", "compression_analyzed", "compression_storage", "storage_ratio"}) m[k] = ratio;
    for (auto k : {"params", "total_params", "analyzed_params", "amplitude_params", "basis_params", "stored_params"})
      m[k] = params;
    for (auto k : {"wall_s", "gram_s", "eigen_s", "fit_s"}) m[k] = seconds;
    for (auto k : {"amplitude_n95", "amplitude_n95_min", "amplitude_n95_max", "weight_n95"})
      m[k] = "components (count for 95% of the variance)";
    for (auto k : {"kl_mean", "kl_p99"}) m[k] = kl;
    for (auto k : {"bytes", "total_bytes", "bytes_streamed", "stored_bytes", "size_bytes", "offset"}) m[k] = "bytes";
    m["sse"] = m["sst"] = "squared weight units";
    m["eigenvalues"] = "squared weight units (eigenvalues of the centered Gram)";
    m["rows"] = "matrix rows";
    m["peak_rss_mb"] = "MiB (2^20 bytes)";
    m["lanes"] = "matrices analyzed side by side, each on one core (analyze --lanes)";
    m["bf16_gram_kernel"] = "the Gram kernel of BF16 matrices: amx, avx512bf16 (dot products) or ssyrk (float)";
    m["blas_core"] = "OpenBLAS's kernel family in use (openblas_get_corename)";
    m["gflop"] = "10^9 floating-point operations";
    m["gflops_per_s"] = "10^9 floating-point operations per second";
    m["ppl"] = "perplexity per scored token: exp(mean negative log-likelihood in nats)";
    m["ppl_stderr"] = "perplexity (standard error, delta method)";
    m["top1_agreement"] = "fraction of scored tokens whose top-1 token equals the reference's";
    m["ctx"] = m["scored_tokens"] = "tokens";
    m["mtime_utc"] = m["run_utc"] = "ISO 8601 time, UTC";
    return m;
  }();
  return g;
}

}  // namespace

nlohmann::json tool_json() {
  // schema_version: of the result's keys (report/result_file.hpp reads it);
  // run_utc: when the result was computed, for the report's "date".
  return {{"name", "ctscope"}, {"version", version_string()}, {"git_commit", git_commit()},
          {"schema_version", kResultSchemaVersion}, {"run_utc", now_iso8601_utc()}};
}

nlohmann::json input_json(const std::filesystem::path& p) {
  nlohmann::json files = nlohmann::json::array();
  for (const FileFingerprint& f : fingerprint_input(p)) files.push_back(fingerprint_json(f));
  return {{"path", std::filesystem::absolute(p).lexically_normal().string()}, {"files", files}};
}

nlohmann::json model_json(const std::string& path, std::string_view format, uint64_t total_params, uint64_t tensors) {
  nlohmann::json j = input_json(path);
  j["format"] = format;
  j["total_params"] = total_params;
  j["tensors"] = tensors;
  return j;
}

nlohmann::json model_json(const Checkpoint& ck) {
  return model_json(ck.path.string(), format_name(ck.format), ck.total_params(), ck.tensors.size());
}

nlohmann::json units_json(std::initializer_list<std::string_view> keys) {
  nlohmann::json j = nlohmann::json::object();
  for (auto k : keys) j[std::string(k)] = glossary().at(k);
  return j;
}

nlohmann::json eval_inputs_json(const std::string& text, const std::string& text_ids, const std::string& tokenizer,
                                const std::string& reference) {
  auto given = [](const std::string& p) { return p.empty() ? nlohmann::json(nullptr) : input_json(p); };
  nlohmann::json tok = given(tokenizer);
  if (tokenizer.empty() && !text.empty())
    tok = {{"path", nullptr},
           {"source", "the model's own (the GGUF vocabulary, or tokenizer.model in its directory)"}};
  return {{"text", given(text)}, {"text_ids", given(text_ids)}, {"tokenizer", tok}, {"reference", given(reference)}};
}

nlohmann::json analysis_units() {
  return units_json({"r2", "r2_svd", "r2_null", "pooled_r2", "pooled_r2_svd", "pooled_r2_null", "mean_r2", "sse", "sst",
                     "weight_pr", "weight_pr_sv", "amplitude_pr", "mean_amplitude_pr", "stable_rank", "amplitude_n95",
                     "amplitude_n95_min", "amplitude_n95_max", "weight_n95", "eigenvalues", "params", "total_params",
                     "analyzed_params", "amplitude_params", "basis_params", "rows", "compression_paper",
                     "compression_analyzed", "compression_storage", "wall_s", "gram_s", "eigen_s", "fit_s",
                     "peak_rss_mb", "gflop", "gflops_per_s", "bytes_streamed", "lanes", "bf16_gram_kernel", "blas_core",
                     "size_bytes", "mtime_utc"});
}

nlohmann::json perplexity_units() {
  return units_json({"ppl", "ppl_stderr", "kl_mean", "kl_p99", "top1_agreement", "scored_tokens", "ctx", "size_bytes",
                     "mtime_utc"});
}

nlohmann::json compression_units() {
  return units_json({"ppl", "ppl_stderr", "kl_mean", "kl_p99", "top1_agreement", "scored_tokens", "ctx",
                     "stored_params", "stored_bytes", "storage_ratio", "pooled_r2", "total_params", "size_bytes",
                     "mtime_utc"});
}

nlohmann::json inspect_units() {
  return units_json({"params", "total_params", "bytes", "total_bytes", "offset", "size_bytes", "mtime_utc"});
}

nlohmann::json selection_json(const ct::TensorSelection& s) {
  return {{"preset", s.preset}, {"include", s.include}, {"exclude", s.exclude}, {"roles", s.roles},
          {"layers", s.layers}};
}

void add_run_record(nlohmann::json& result, const nlohmann::json& model, const nlohmann::json& inputs,
                    const nlohmann::json& settings, const nlohmann::json& units) {
  result["tool"] = tool_json();
  if (!model.is_null()) result["model"] = model;
  if (!inputs.is_null()) result["inputs"] = inputs;
  if (!settings.is_null()) {
    if (!result["settings"].is_object()) result["settings"] = nlohmann::json::object();
    result["settings"].update(settings);
  }
  result["units"] = units;
}

}  // namespace ctscope::report
