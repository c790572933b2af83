#include "ct/tensor_selection.hpp"

#include <optional>
#include <regex>
#include <set>

#include "util/error.hpp"

namespace ctscope::ct {

namespace {

bool is_projection(Role r) {
  return r == Role::QProj || r == Role::KProj || r == Role::VProj || r == Role::OProj ||
         r == Role::GateProj || r == Role::UpProj || r == Role::DownProj;
}

std::regex compile_regex(const std::string& flag, const std::string& re) {
  try {
    return std::regex(re, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(fmt::format("{} '{}': invalid regular expression ({})", flag, re, e.what()));
  }
}

// Why a matrix cannot be fitted, or "" when it can.
std::string unfit_reason(const TensorInfo& t, int64_t min_row_length) {
  if (!t.is_matrix()) return fmt::format("{}-D tensor (only matrices are fitted)", t.shape.size());
  if (t.numel() == 0) return "empty matrix";
  if (!traits(t.dtype).to_f32) return fmt::format("dtype {} is not supported", dtype_name(t.dtype));
  if (t.cols() < min_row_length) return fmt::format("row length d={} < K={}", t.cols(), min_row_length);
  if (t.rows() < 2) return "a single row";
  return "";
}

}  // namespace

const std::vector<std::string>& selection_presets() {
  static const std::vector<std::string> presets{"paper68"};
  return presets;
}

Selection select_tensors(const Checkpoint& ck, const TensorSelection& s, int64_t min_row_length) {
  Selection sel;
  const bool paper = s.preset == "paper68";
  if (!s.preset.empty() && !paper) throw Error(fmt::format("--preset '{}': unknown (known: paper68)", s.preset));
  std::optional<std::regex> inc, exc;
  if (!s.include.empty()) inc = compile_regex("--include", s.include);
  if (!s.exclude.empty()) exc = compile_regex("--exclude", s.exclude);

  sel.description = paper ? "paper68: q,k,v,o,gate,up,down of every layer + lm_head" : "every 2-D tensor";
  if (inc) sel.description += ", include /" + s.include + "/";
  if (exc) sel.description += ", exclude /" + s.exclude + "/";

  for (const auto& t : ck.tensors) {
    if (paper) {
      // Paper 68 counts one vocabulary matrix: lm_head (the embedding itself when tied).
      if (!(is_projection(t.role) || t.role == Role::LmHead)) continue;
    } else if (!t.alias_of.empty()) {
      sel.skipped.emplace_back(t.name, "alias of " + t.alias_of + " (analyzed once)");
      continue;
    }
    if (inc && !std::regex_search(t.name, *inc)) continue;
    if (exc && std::regex_search(t.name, *exc)) continue;
    if (std::string why = unfit_reason(t, min_row_length); !why.empty())
      sel.skipped.emplace_back(t.name, std::move(why));
    else
      sel.matrices.push_back(&t);
  }
  return sel;
}

std::vector<const TensorInfo*> tensors_to_fit(const Checkpoint& ck, const Selection& sel) {
  std::vector<const TensorInfo*> out;
  std::set<std::string> seen;
  for (const auto* t : sel.matrices) {
    const TensorInfo* data = t->alias_of.empty() ? t : ck.find(t->alias_of);
    if (data && seen.insert(data->name).second) out.push_back(data);
  }
  return out;
}

}  // namespace ctscope::ct
