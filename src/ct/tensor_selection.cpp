#include "ct/tensor_selection.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

// The names a tensor answers to: its own and, when its role is known, the
// canonical Hugging Face name (what `inspect` shows as role and layer).
std::vector<std::string> names_of(const TensorInfo& t) {
  std::vector<std::string> names{t.name};
  const bool global = t.role == Role::EmbedTokens || t.role == Role::LmHead || t.role == Role::Norm;
  if (t.role != Role::Other && (global || t.layer >= 0)) {
    std::string hf = hf_tensor_name(t.layer, t.role);
    if (!hf.empty() && hf != t.name) names.push_back(std::move(hf));
  }
  return names;
}

// The transformer blocks of the model: the config's count, or more if tensors say so.
int model_layers(const Checkpoint& ck) {
  int n = static_cast<int>(std::max<int64_t>(ck.config.n_layers, 0));
  for (const auto& t : ck.tensors) n = std::max(n, t.layer + 1);
  return n;
}

// The filters of a selection beyond the preset, checked against the model once.
struct Filters {
  std::optional<std::regex> include, exclude;
  std::vector<Role> roles;          // empty: any
  std::vector<LayerRange> layers;   // empty: any

  Filters(const Checkpoint& ck, const TensorSelection& s) {
    if (!s.include.empty()) include = compile_regex("--include", s.include);
    if (!s.exclude.empty()) exclude = compile_regex("--exclude", s.exclude);
    const auto& known = fittable_role_names();
    for (const auto& r : s.roles) {
      if (std::find(known.begin(), known.end(), r) == known.end())
        throw Error(fmt::format("--role '{}': unknown (known: {})", r, fmt::join(known, ", ")));
      roles.push_back(*role_from_name(r));
    }
    if (!s.layers.empty()) {
      layers = parse_layer_ranges(s.layers);
      const int n = model_layers(ck);
      for (const auto& r : layers)
        if (r.last >= n)
          fail(ck.path.string(), "--layers '{}': layer {} is out of range (the model has {} layers: 0-{})", s.layers,
               r.last, n, n - 1);
    }
  }

  bool matches(const TensorInfo& t) const {
    const auto names = names_of(t);
    auto any_name = [&](const std::regex& re) {
      return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return std::regex_search(n, re); });
    };
    if (include && !any_name(*include)) return false;
    if (exclude && any_name(*exclude)) return false;
    if (!roles.empty() && std::find(roles.begin(), roles.end(), t.role) == roles.end()) return false;
    if (!layers.empty() && std::none_of(layers.begin(), layers.end(), [&](const LayerRange& r) {
          return t.layer >= r.first && t.layer <= r.last;
        }))
      return false;
    return true;
  }
};

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

const std::vector<std::string>& fittable_role_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto r : {Role::QProj, Role::KProj, Role::VProj, Role::OProj, Role::GateProj, Role::UpProj, Role::DownProj,
                   Role::EmbedTokens, Role::LmHead})
      v.emplace_back(role_name(r));
    return v;
  }();
  return names;
}

std::vector<LayerRange> parse_layer_ranges(const std::string& text) {
  auto bad = [&](std::string_view item, std::string_view why) {
    return Error(fmt::format("--layers '{}': '{}' {} (write ranges like 0-5,10,20-21)", text, item, why));
  };
  auto number = [&](std::string_view item, std::string_view digits) {
    int v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || v < 0)
      throw bad(item, "is not a layer number or range");
    return v;
  };
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  std::vector<LayerRange> out;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) throw bad(item, "is empty");
    const size_t dash = item.find('-');
    LayerRange r;
    if (dash == std::string_view::npos) {
      r.first = r.last = number(item, item);
    } else {
      r.first = number(item, trim(item.substr(0, dash)));
      r.last = number(item, trim(item.substr(dash + 1)));
      if (r.last < r.first) throw bad(item, "runs backwards");
    }
    out.push_back(r);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

Selection select_tensors(const Checkpoint& ck, const TensorSelection& s, int64_t min_row_length) {
  Selection sel;
  const bool paper = s.preset == "paper68";
  if (!s.preset.empty() && !paper) throw Error(fmt::format("--preset '{}': unknown (known: paper68)", s.preset));
  const Filters filters(ck, s);

  sel.description = paper ? "paper68: q,k,v,o,gate,up,down of every layer + lm_head" : "every 2-D tensor";
  if (filters.include) sel.description += ", include /" + s.include + "/";
  if (filters.exclude) sel.description += ", exclude /" + s.exclude + "/";
  if (!s.roles.empty()) sel.description += fmt::format(", roles {}", fmt::join(s.roles, ","));
  if (!s.layers.empty()) sel.description += ", layers " + s.layers;

  for (const auto& t : ck.tensors) {
    if (!filters.matches(t)) continue;
    if (paper) {
      // Paper 68 counts one vocabulary matrix: lm_head (the embedding itself when tied).
      if (!(is_projection(t.role) || t.role == Role::LmHead)) continue;
    } else if (!t.alias_of.empty()) {
      sel.skipped.emplace_back(t.name, "alias of " + t.alias_of + " (analyzed once)");
      continue;
    }
    if (unfit_reason(t, 1).empty()) sel.longest_row = std::max(sel.longest_row, t.cols());
    if (std::string why = unfit_reason(t, min_row_length); !why.empty())
      sel.skipped.emplace_back(t.name, std::move(why));
    else
      sel.matrices.push_back(&t);
  }
  if (sel.matrices.empty() && sel.skipped.empty())
    fail(ck.path.string(), "the selection ({}) matches no tensor; `ctscope inspect` shows the names, roles and layers",
         sel.description);
  return sel;
}

void require_fittable(const Selection& sel, const std::vector<int>& Ks, const std::string& where) {
  if (sel.longest_row == 0)
    fail(where, "nothing to fit: no matrix in the selection ({}; {} tensors left out: `ctscope inspect` lists them)",
         sel.description, sel.skipped.size());
  const int kmin = Ks.empty() ? 1 : *std::min_element(Ks.begin(), Ks.end());
  if (sel.longest_row < kmin)
    fail(where, "nothing to fit: every selected row is shorter than K (longest row d = {}, smallest K = {}); use K <= {}",
         sel.longest_row, kmin, sel.longest_row);
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
