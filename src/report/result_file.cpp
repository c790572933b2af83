#include "report/result_file.hpp"

#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/mapped_file.hpp"
#include "util/version.hpp"

namespace ctscope::report {

const std::vector<ResultKind>& result_kinds() {
  static const std::vector<ResultKind> kinds = {
      {"analysis", "analyze", {"model", "settings", "summary"}, {"matrices", "layers", "roles"}},
      {"compression", "eval-compression", {"model", "settings", "floors"}, {"variants"}},
      {"finetune", "finetune", {"settings", "params", "before", "after"}, {"training_log"}},
      {"finetune-compare", "finetune-compare", {"settings"}, {"finetune_rows"}},
  };
  return kinds;
}

namespace {

// What a value is, for a message: "a string", "an array", ...
std::string type_words(const nlohmann::json& v) {
  const std::string t = v.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

// "tool": {"name": "ctscope", "schema_version": 1}, or the line that says which key is wrong.
void check_tool(const std::string& file, const nlohmann::json& j) {
  if (!j.is_object()) fail(file, "not a ctscope result: the JSON is {}, not an object", type_words(j));
  if (!j.contains("tool")) fail(file, "not a ctscope result: no 'tool' key");
  const auto& tool = j["tool"];
  if (!tool.is_object() || !tool.contains("name") || tool["name"] != "ctscope")
    fail(file, "not a ctscope result: 'tool.name' is {}, not \"ctscope\"",
         tool.is_object() && tool.contains("name") ? json_text(tool["name"]) : std::string("missing"));
  if (!tool.contains("schema_version")) return;  // written before the key existed: version 1
  const auto& v = tool["schema_version"];
  if (!v.is_number_integer() || v.get<int64_t>() != kResultSchemaVersion)
    fail(file, "unknown schema version: 'tool.schema_version' is {}; this ctscope ({}) reads version {}",
         json_text(v), version_string(), kResultSchemaVersion);
}

// ctscope's results nest a few levels deep; a hostile file of 100,000 '[' is
// refused before a parser (and the destructor of what it builds) recurses into it.
void check_nesting(const std::string& file, std::string_view text) {
  constexpr int kMaxDepth = 64;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) fail(file, "not a ctscope result: JSON nested deeper than {} levels", kMaxDepth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

std::string known_kinds() {
  std::string s;
  for (const auto& k : result_kinds()) s += (s.empty() ? "" : ", ") + fmt::format("'{}' ({})", k.arrays.front(), k.command);
  return s;
}

}  // namespace

ResultFile classify_result(const std::string& file, nlohmann::json result) {
  check_tool(file, result);
  for (const auto& kind : result_kinds()) {
    if (!result.contains(kind.arrays.front())) continue;
    for (const auto& key : kind.arrays)
      if (!result.contains(key) || !result[key].is_array())
        fail(file, "'{}' is {}, not an array (in a result of {})", key,
             result.contains(key) ? type_words(result[key]) : std::string("missing"), kind.command);
    for (const auto& key : kind.objects)
      if (!result.contains(key) || !result[key].is_object())
        fail(file, "'{}' is {}, not an object (in a result of {})", key,
             result.contains(key) ? type_words(result[key]) : std::string("missing"), kind.command);
    return {file, kind.name, std::move(result)};
  }
  if (result.contains("ppl")) fail(file, "an `eval` result ('ppl'): the report shows {}", known_kinds());
  fail(file, "a ctscope result of no kind the report shows: it has no key {}", known_kinds());
}

namespace {

// `analyze A B ...` writes one result per model under "models" (each less the
// shared "tool", plus its "label"): each becomes the result it would be alone.
std::vector<ResultFile> split_models(const std::string& file, const nlohmann::json& result) {
  if (!result["models"].is_array() || result["models"].empty())
    fail(file, "'models' is {}, not a non-empty array (in a result of analyze with several models)",
         type_words(result["models"]));
  std::vector<ResultFile> out;
  for (const auto& entry : result["models"]) {
    if (!entry.is_object()) fail(file, "an entry of 'models' is {}, not an object", type_words(entry));
    nlohmann::json one = entry;
    const std::string label = one.value("label", std::to_string(out.size() + 1));
    one.erase("label");
    one["tool"] = result["tool"];
    out.push_back(classify_result(file + " (" + label + ")", std::move(one)));
  }
  return out;
}

}  // namespace

std::vector<ResultFile> classify_results(const std::string& file, nlohmann::json result) {
  check_tool(file, result);
  if (result.contains("models") && result.value("schema", "") == "ctscope-analyze-multi/1")
    return split_models(file, result);
  return {classify_result(file, std::move(result))};
}

std::vector<ResultFile> read_result_files(const std::string& file) {
  const auto map = MappedFile::open(file);
  const std::string_view text = map->text();
  check_nesting(file, text);
  nlohmann::json result;
  try {
    result = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    fail(file, "not JSON (a syntax error at byte {}): not a ctscope result", e.byte);
  }
  return classify_results(file, std::move(result));
}

}  // namespace ctscope::report
