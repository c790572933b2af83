// analyze with several models (a trajectory): one result with a model column.
// Each model's section must equal its own single-model run (same numbers),
// the CSV is the single CSVs with a leading model column, the terminal table
// puts the models side by side, and one model keeps the single-model schema.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synth/synth.hpp"
#include "test_support.hpp"

using namespace ctscope;
namespace fs = std::filesystem;
using nlohmann::json;
using test_support::run_cli;
using test_support::slurp;
using test_support::TempDir;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(AnalyzeMany, EachSectionEqualsItsSingleRun) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("many");
  SynthOptions so;
  so.preset = "tiny";
  so.force = true;
  synth_checkpoint(dir / "tiny", so);
  const std::string stories = (test_support::kModels / "stories260K.bin").string(), tiny = (dir / "tiny").string();
  const std::string flags = " --K 1,4 -q --progress none";

  auto r = run_cli("analyze " + stories + " " + tiny + flags + " --json " + (dir / "m.json").string() + " --csv " +
                   (dir / "m.csv").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> models{stories, tiny};
  std::vector<json> single;
  std::vector<std::string> single_csv;
  for (size_t i = 0; i < models.size(); ++i) {
    const auto js = dir / ("s" + std::to_string(i) + ".json"), cs = dir / ("s" + std::to_string(i) + ".csv");
    r = run_cli("analyze " + models[i] + flags + " --json " + js.string() + " --csv " + cs.string());
    ASSERT_EQ(r.code, 0) << r.err;
    single.push_back(json::parse(slurp(js)));
    single_csv.push_back(slurp(cs));
    EXPECT_FALSE(single.back().contains("models")) << "one model keeps the single-model schema";
  }

  const json m = json::parse(slurp(dir / "m.json"));
  EXPECT_EQ(m.at("schema"), "ctscope-analyze-multi/1");
  ASSERT_EQ(m.at("models").size(), 2u);
  ASSERT_EQ(m.at("comparison").size(), 2u);
  for (size_t i = 0; i < models.size(); ++i) {
    SCOPED_TRACE(models[i]);
    const json& sec = m["models"][i];
    EXPECT_EQ(sec.at("label"), models[i]);
    EXPECT_EQ(sec.at("model"), single[i].at("model"));
    EXPECT_EQ(sec.at("settings"), single[i].at("settings"));
    EXPECT_EQ(sec.at("summary"), single[i].at("summary"));
    EXPECT_EQ(sec.at("layers"), single[i].at("layers"));
    ASSERT_EQ(sec.at("matrices").size(), single[i].at("matrices").size());
    const json& cmp = m["comparison"][i];
    EXPECT_EQ(cmp.at("matrices"), single[i]["summary"]["matrices"]);
    EXPECT_EQ(cmp.at("mean_weight_pr"), single[i]["summary"]["mean_weight_pr"]);
    for (size_t f = 0; f < cmp.at("fits").size(); ++f)
      EXPECT_EQ(cmp["fits"][f].at("pooled_r2"), single[i]["summary"]["fits"][f].at("pooled_r2"));
  }

  // CSV: "model," + the single header, then each model's rows behind its label.
  const auto csv = lines(slurp(dir / "m.csv"));
  ASSERT_FALSE(csv.empty());
  EXPECT_EQ(csv[0], "model," + lines(single_csv[0])[0]);
  size_t row = 1;
  for (size_t i = 0; i < models.size(); ++i) {
    const auto one = lines(single_csv[i]);
    for (size_t k = 1; k < one.size(); ++k, ++row) {
      ASSERT_LT(row, csv.size());
      EXPECT_EQ(csv[row], models[i] + "," + one[k]);
    }
  }
  EXPECT_EQ(row, csv.size());

  // Terminal: one column per model, the summary metrics as rows.
  r = run_cli("analyze " + stories + " " + tiny + " --K 1,4 --progress none");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("side by side"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gaussian K=4 pooled R²"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mean weight PR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(tiny), std::string::npos) << r.out;
}

TEST(AnalyzeMany, ModelsListFileAndItsErrors) {
  TempDir dir("many");
  SynthOptions so;
  so.preset = "tiny";
  so.force = true;
  synth_checkpoint(dir / "a", so);
  so.seed = 1;
  synth_checkpoint(dir / "b", so);
  const auto list = dir / "list.txt";
  std::ofstream(list) << "# a trajectory\n" << (dir / "a").string() << "\n\n  " << (dir / "b").string() << "  \n";
  auto r = run_cli("analyze --models " + list.string() + " --K 4 -q --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const json m = json::parse(r.out);
  ASSERT_EQ(m.at("models").size(), 2u);
  EXPECT_EQ(m["models"][1].at("label"), (dir / "b").string());
  // Different seeds, different weights, different numbers.
  EXPECT_NE(m["comparison"][0]["fits"][0]["pooled_r2"], m["comparison"][1]["fits"][0]["pooled_r2"]);

  std::ofstream(dir / "empty.txt") << "# nothing\n";
  r = run_cli("analyze --models " + (dir / "empty.txt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("names no model"), std::string::npos) << r.err;
  // A list that is a FIFO is refused in one line, not waited on.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  r = run_cli("analyze --models " + (dir / "fifo").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("fifo"), std::string::npos) << r.err;
  // A journal takes one model at a time.
  r = run_cli("analyze --models " + list.string() + " --journal " + (dir / "j").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("one model at a time"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "j"));
  // A missing model among several fails before anything is analyzed or written.
  r = run_cli("analyze " + (dir / "a").string() + " " + (dir / "missing").string() + " --json " +
              (dir / "out.json").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(dir / "out.json"));
}
