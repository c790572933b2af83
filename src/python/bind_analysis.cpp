// The CT analysis from Python: the same analyze_model and the same JSON as
// `ctscope analyze --json` (python/ctscope wraps it as an AnalysisResult).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>
#include <optional>

#include "ct/model_analysis.hpp"
#include "ctfile/ct_reader.hpp"
#include "python/bindings.hpp"
#include "report/analysis_report.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"

namespace ctscope::python {

namespace {

std::vector<ct::BasisKind> basis_kinds(const std::vector<std::string>& names) {
  std::vector<ct::BasisKind> out;
  for (const auto& n : names) out.push_back(basis_kind(n));
  return out;
}

// The JSON text `ctscope analyze --json` would write for the same settings.
std::string analyze_json(py::object model, std::vector<int> Ks, std::vector<std::string> bases,
                         std::optional<std::string> preset, std::optional<std::string> include,
                         std::optional<std::string> exclude, std::vector<std::string> roles,
                         std::optional<std::string> layers, bool spectrum, bool svd, uint64_t seed, bool progress,
                         int lanes) {
  std::shared_ptr<Checkpoint> ck;
  if (py::isinstance<Checkpoint>(model))
    ck = model.cast<std::shared_ptr<Checkpoint>>();
  else
    ck = std::make_shared<Checkpoint>(Checkpoint::open(model.cast<std::filesystem::path>()));
  ctfile::require_dense(*ck, "analyze", "analyze the source model, or reconstruct it first and analyze the result");
  ct::AnalysisSettings s;
  s.Ks = std::move(Ks);
  s.bases = basis_kinds(bases);
  s.selection = {preset.value_or(""), include.value_or(""), exclude.value_or(""), std::move(roles), layers.value_or("")};
  s.spectrum = spectrum;
  s.svd_baseline = svd;
  s.seed = seed;
  const ct::ModelAnalysis a = without_gil([&] { return ct::analyze_model(*ck, s, interruptible_progress(progress), nullptr, lanes); });
  return json_text(report::analysis_json(a), 1) + "\n";
}

}  // namespace

void bind_analysis(py::module_& m) {
  m.def("analyze_json", &analyze_json, py::arg("model"), py::arg("K"), py::arg("basis"), py::arg("preset"),
        py::arg("include"), py::arg("exclude"), py::arg("roles"), py::arg("layers"), py::arg("spectrum"), py::arg("svd"), py::arg("seed"),
        py::arg("progress"), py::arg("lanes"), "The CT analysis as the JSON text of `ctscope analyze --json` (K as given: sort it first)");
}

}  // namespace ctscope::python
