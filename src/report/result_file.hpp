// The results the HTML report reads: JSON files written by ctscope's commands,
// recognized by their keys (a file name or extension proves nothing). Each
// kind the report knows is one entry of result_kinds() (analyze,
// eval-compression, finetune, finetune-compare) and its figures in web/report.js.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctscope::report {

// The version of the result schemas this ctscope writes ("tool.schema_version")
// and reads. A result without the key was written before it existed: version 1.
inline constexpr int kResultSchemaVersion = 1;

// One kind of result the report shows.
struct ResultKind {
  std::string name;                  // "analysis": what web/report.js dispatches on
  std::string command;               // "analyze": the command that writes it
  std::vector<std::string> objects;  // top-level keys that must be objects
  std::vector<std::string> arrays;   // top-level keys that must be arrays; the first identifies the kind
};
const std::vector<ResultKind>& result_kinds();

struct ResultFile {
  std::string file;  // as given
  std::string kind;  // a ResultKind::name
  nlohmann::json result;
};

// Checks that `result` is a ctscope result of a known schema version and kind;
// an Error "<file>: ..." naming the key that is wrong otherwise.
ResultFile classify_result(const std::string& file, nlohmann::json result);
// classify_result, where a result of several models (`analyze A B ...`:
// "models") is one result per model, each named "FILE (LABEL)".
std::vector<ResultFile> classify_results(const std::string& file, nlohmann::json result);
// Reads a result file and classifies it (classify_results).
std::vector<ResultFile> read_result_files(const std::string& file);

}  // namespace ctscope::report
