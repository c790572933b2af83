// Running models from Python: compress, perplexity and generate call the same
// functions as `ctscope compress`, `ctscope eval` and `ctscope generate`.
#include <pybind11/stl.h>

#include <optional>

#include "ctfile/ct_vocab.hpp"
#include "ctfile/ct_writer.hpp"
#include "eval/generation_run.hpp"
#include "eval/model_perplexity.hpp"
#include "python/bindings.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace ctscope::python {

namespace {

py::dict compress(const std::string& model, const std::string& output, int K, const std::string& basis,
                  std::optional<std::string> preset, std::optional<std::string> include,
                  std::optional<std::string> exclude, std::vector<std::string> roles, std::optional<std::string> layers,
                  uint64_t seed, bool progress, std::optional<std::string> tokenizer) {
  ctfile::CompressSettings s;
  s.K = K;
  s.basis = basis_kind(basis);
  s.selection = {preset.value_or(""), include.value_or(""), exclude.value_or(""), std::move(roles), layers.value_or("")};
  s.seed = seed;
  check_writable(output);
  const ctfile::CompressSummary sum = without_gil([&] {
    const Checkpoint ck = Checkpoint::open(model);
    if (tokenizer) {
      s.vocab = ctfile::read_vocab_to_carry(*tokenizer, ck.config.vocab_size);
      s.vocab_source = *tokenizer;
    }
    return ctfile::compress_checkpoint(ck, s, output, interruptible_progress(progress));
  });
  py::dict out;
  out["output"] = output;
  out["fitted_matrices"] = sum.fitted_matrices;
  out["pooled_r2"] = sum.pooled_r2();
  out["total_params"] = sum.total_params;
  out["stored_params"] = sum.stored_params;
  out["amplitude_params"] = sum.amplitude_params;
  out["source_bytes"] = sum.source_bytes;
  out["file_bytes"] = sum.file_bytes;
  out["vocab_tokens"] = sum.vocab_tokens;
  return out;
}

py::object perplexity(const std::string& model, const std::string& text, const std::string& text_ids,
                      const std::string& tokenizer, int64_t ctx, const std::string& ref, bool progress) {
  const PerplexityRun run =
      without_gil([&] { return model_perplexity({model, ref, text, text_ids, tokenizer, ctx}, interruptible_progress(progress)); });
  const nlohmann::json j = run.to_json();
  return to_python(j);
}

// As `ctscope generate`: n counts new tokens (llama.cpp's -n); more than fit the
// model's context is an error, as in the CLI. Ids in need no tokenizer; then
// "text" stays empty when none is found.
py::dict generate_text(const std::string& model, const std::string& prompt, std::optional<std::vector<int32_t>> prompt_ids,
                       const std::string& tokenizer, int64_t n, float temperature, float top_p, uint64_t seed) {
  GenerationRequest request;
  request.model = model;
  request.tokenizer = tokenizer;
  request.prompt = prompt;
  request.prompt_ids = std::move(prompt_ids);
  request.prompt_ids_source = "prompt_ids";
  request.text_out = false;
  request.n_new = n;
  request.temperature = temperature;
  request.top_p = top_p;
  request.seed = seed;
  std::vector<int32_t> ids;
  std::string text;
  size_t generated = 0;
  without_gil([&] {
    GenerationRun run = prepare_generation(request);
    generated = run.run();
    ids = run.ids;
    text = run.text();
  });
  py::dict out;
  out["ids"] = ids;
  out["text"] = py::bytes(text).attr("decode")("utf-8", "replace");
  out["generated"] = generated;
  return out;
}

}  // namespace

void bind_models(py::module_& m) {
  m.def("compress", &compress, py::arg("model"), py::arg("output"), py::arg("K"), py::arg("basis"), py::arg("preset"),
        py::arg("include"), py::arg("exclude"), py::arg("roles"), py::arg("layers"), py::arg("seed"), py::arg("progress"),
        py::arg("tokenizer"), "Write the CT-compressed model (as `ctscope compress`); returns the summary");
  m.def("perplexity", &perplexity, py::arg("model"), py::arg("text"), py::arg("text_ids"), py::arg("tokenizer"),
        py::arg("ctx"), py::arg("ref"), py::arg("progress"),
        "Perplexity by llama.cpp's rule (as `ctscope eval --json`), with KL and top-1 agreement against ref");
  m.def("generate", &generate_text, py::arg("model"), py::arg("prompt"), py::arg("prompt_ids"), py::arg("tokenizer"),
        py::arg("n"), py::arg("temperature"), py::arg("top_p"), py::arg("seed"),
        "Run the model on a prompt (as `ctscope generate`): dict with ids, text, generated");
}

}  // namespace ctscope::python
