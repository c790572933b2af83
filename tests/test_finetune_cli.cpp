// `ctscope finetune` and `finetune-compare` as a user runs them, on the real
// stories260K model: the trained file is what eval runs, the log and JSON say
// what happened, a killed run resumes to the same bytes, and bad input is one
// line and exit 2 with nothing written.
#include <gtest/gtest.h>

#include <cmath>

#include "test_support.hpp"

namespace ctscope {
namespace {

using namespace test_support;

const std::string kStory = std::string(CTSCOPE_SOURCE_DIR) + "/tests/data/story.txt";

std::string stories() { return (kModels / "stories260K.bin").string() + " --tokenizer " + (kModels / "tok512.bin").string(); }

// A short run: K amplitudes, `steps` steps of 2 windows of 32 tokens.
std::string short_run(const std::string& extra, int steps = 6, const std::string& K = "8",
                      const std::string& train = kStory) {
  return "finetune " + stories() + " --train " + train + " --valid " + kStory + " --K " + K + " --steps " +
         std::to_string(steps) + " --batch 2 --ctx 32 --lr 0.003 --eval-every 3 -q " + extra;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(FinetuneCli, TrainsTheAmplitudesAndWritesTheModelEvalRuns) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ft");
  const CliRun r = run_cli(short_run("-o " + (dir / "m.ct.safetensors").string() + " --json " +
                                     (dir / "r.json").string() + " --log " + (dir / "log.jsonl").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = read_json(dir / "r.json");
  EXPECT_LT(j["after"]["ppl"].get<double>(), j["before"]["ppl"].get<double>()) << "6 steps at lr 3e-3 lower the loss";
  EXPECT_EQ(j["settings"]["trainable"], "amplitudes");
  EXPECT_GT(j["params"]["trainable"].get<uint64_t>(), 0u);
  // The log: one line per step, validation on steps 3 and 6.
  const auto log = read_jsonl(dir / "log.jsonl");
  ASSERT_EQ(log.size(), 6u);
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i]["step"], i);
    EXPECT_TRUE(std::isfinite(log[i]["train_loss"].get<double>()));
    EXPECT_EQ(log[i].contains("valid_ppl"), i == 2 || i == 5) << i;
  }
  EXPECT_EQ(j["training_log"].size(), 6u);
  // eval runs the written file and measures what the run measured last.
  const CliRun e = run_cli("eval " + (dir / "m.ct.safetensors").string() + " --text " + kStory +
                           " --ctx 32 --json - -q");
  ASSERT_EQ(e.code, 0) << e.err;
  const double eval_ppl = nlohmann::json::parse(e.out)["ppl"].get<double>();
  EXPECT_NEAR(eval_ppl, j["after"]["ppl"].get<double>(), 1e-4 * eval_ppl);
  // generate takes it too (the vocabulary is carried).
  const CliRun g = run_cli("generate " + (dir / "m.ct.safetensors").string() + " --prompt Once -n 8 --temperature 0");
  EXPECT_EQ(g.code, 0) << g.err;
  // A second run starts where the first ended (--init), and may not overwrite its init file.
  const CliRun again = run_cli(short_run("--init " + (dir / "m.ct.safetensors").string() + " -o " +
                                         (dir / "m2.ct.safetensors").string() + " --json " + (dir / "r2.json").string()));
  ASSERT_EQ(again.code, 0) << again.err;
  const double before2 = read_json(dir / "r2.json")["before"]["ppl"].get<double>();
  EXPECT_NEAR(before2, j["after"]["ppl"].get<double>(), 1e-4 * before2);
  const CliRun over = run_cli(short_run("--init " + (dir / "m.ct.safetensors").string() + " -o " +
                                        (dir / "m.ct.safetensors").string()));
  EXPECT_EQ(over.code, 2) << over.err;
  EXPECT_NE(over.err.find("--init"), std::string::npos) << over.err;
}

TEST(FinetuneCli, EveryTrainableModeRunsAndStartsFromTheCompressedModel) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ftmodes");
  double before = 0;
  for (const std::string mode : {"amplitudes", "amplitudes+norms", "lora:2", "full"}) {
    const CliRun r = run_cli(short_run("--trainable " + mode + " -o " + (dir / "m.ct.safetensors").string() +
                                       " --json " + (dir / "r.json").string()));
    ASSERT_EQ(r.code, 0) << mode << ": " << r.err;
    const nlohmann::json j = read_json(dir / "r.json");
    if (before == 0) before = j["before"]["ppl"].get<double>();
    EXPECT_NEAR(j["before"]["ppl"].get<double>(), before, 1e-6 * before) << mode << " starts elsewhere";
    EXPECT_LT(j["after"]["ppl"].get<double>(), before) << mode;
  }
}

TEST(FinetuneCli, AKilledRunResumesToTheSameBytesAndLog) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ftresume");
  const std::string common = "--save-every 4 ";
  const CliRun whole = run_cli(short_run(common + "-o " + (dir / "a.ct").string() + " --log " +
                                         (dir / "a.jsonl").string() + " --state " + (dir / "a.state").string(), 10));
  ASSERT_EQ(whole.code, 0) << whole.err;
  const std::string b = common + "-o " + (dir / "b.ct").string() + " --log " + (dir / "b.jsonl").string() +
                        " --state " + (dir / "b.state").string();
  const CliRun killed = run_cli(short_run(b, 10), "CTSCOPE_TEST_KILL_AFTER_STEP=6");
  EXPECT_NE(killed.code, 0);
  EXPECT_FALSE(fs::exists(dir / "b.ct")) << "a killed run leaves no output";
  ASSERT_TRUE(fs::exists(dir / "b.state"));
  const CliRun resumed = run_cli(short_run(b + " --resume " + (dir / "b.state").string(), 10));
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(slurp(dir / "a.ct"), slurp(dir / "b.ct")) << "the resumed run's model differs from the uninterrupted one";
  auto la = read_jsonl(dir / "a.jsonl"), lb = read_jsonl(dir / "b.jsonl");
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) {
    la[i].erase("seconds");
    lb[i].erase("seconds");
    EXPECT_EQ(la[i], lb[i]) << "log line " << i;
  }
  // A state of other settings is refused with one line.
  const CliRun other = run_cli(short_run("--weight-decay 0.1 -o " + (dir / "c.ct").string() + " --resume " +
                                         (dir / "b.state").string(), 10));
  EXPECT_EQ(other.code, 2);
  EXPECT_EQ(count_lines(other.err), 1) << other.err;
  EXPECT_FALSE(fs::exists(dir / "c.ct"));
}

TEST(FinetuneCli, BadInputIsOneLineAndExit2WithNothingWritten) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ftbad");
  const std::string out = (dir / "m.ct").string();
  const std::string tiny_text = write_temp("ft_tiny.txt", std::string("Once upon a time.")).string();
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {short_run("--trainable amplitude -o " + out), "amplitudes+norms"},
      {short_run("--trainable lora:0 -o " + out), "lora"},
      {short_run("-o " + out, 6, "200"), "200"},
      {short_run("-o " + out, 6, "8", tiny_text), "fewer than one training window"},
      {short_run("--teacher " + (kModels / "llama-2-tiny-random.gguf").string() + " -o " + out), "vocabulary"},
      {short_run("-o " + out, 6, "8", "teacher:1000"), "--teacher"},
  };
  for (const auto& c : cases) {
    const CliRun r = run_cli(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
}

TEST(FinetuneCli, TeacherSamplesNeedNoCorpus) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ftteacher");
  const std::string model = (kModels / "stories260K.bin").string();
  const CliRun r = run_cli("finetune " + stories() + " --teacher " + model +
                           " --train teacher:2000 --valid teacher:600 --K 8 --steps 4 --batch 2 --ctx 32 -q -o " +
                           (dir / "m.ct").string() + " --json " + (dir / "r.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = read_json(dir / "r.json");
  EXPECT_EQ(j["settings"]["distill_weight"], 1.0) << "a teacher distills by default";
  EXPECT_GE(j["settings"]["train_tokens"].get<int64_t>(), 2000);
  ASSERT_TRUE(j["before"].contains("kl_mean")) << "validation is measured against the teacher";
  EXPECT_GT(j["before"]["kl_mean"].get<double>(), 0.0);
}

TEST(FinetuneCompareCli, TheTableHasEveryRowAndLoraMatchesTheAmplitudeCount) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  TempDir dir("ftc");
  const CliRun r = run_cli("finetune-compare " + stories() + " --train " + kStory + " --valid " + kStory +
                           " --K 8,16 --basis gaussian,dct --steps 3 --batch 2 --ctx 32 -q --json " +
                           (dir / "c.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = read_json(dir / "c.json");
  const auto& rows = j["finetune_rows"];
  // original, int8, then per K: gaussian, dct, LoRA, full.
  ASSERT_EQ(rows.size(), 2u + 2u * 4u);
  EXPECT_EQ(rows[0]["kind"], "original");
  EXPECT_NEAR(rows[0]["before"]["kl_mean"].get<double>(), 0.0, 1e-12) << "the original against itself";
  EXPECT_EQ(rows[1]["kind"], "int8");
  for (size_t k = 0; k < 2; ++k) {
    const auto& amp = rows[2 + 4 * k];
    const auto& lora = rows[2 + 4 * k + 2];
    const auto& full = rows[2 + 4 * k + 3];
    EXPECT_EQ(amp["kind"], "amplitudes");
    EXPECT_EQ(lora["kind"], "lora");
    EXPECT_EQ(full["kind"], "full");
    // LoRA's count, r (n + d) per matrix, within half a rank's worth of the amplitudes' n K.
    const double a = amp["trainable_params"].get<double>(), l = lora["trainable_params"].get<double>();
    const double per_rank = l / lora["lora_rank"].get<double>();
    EXPECT_LE(std::abs(l - a), per_rank / 2 + 1) << lora["variant"];
    EXPECT_GT(full["trainable_params"].get<double>(), l);
    for (const auto* row : {&amp, &lora, &full}) EXPECT_EQ((*row)["training_log"].size(), 3u);
  }
}

}  // namespace
}  // namespace ctscope
