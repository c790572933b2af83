// One interface across commands, run as a user would: outputs where the user
// points ("-", /dev/stdout, a FIFO), the same option names and -q everywhere,
// one overwrite policy, help and version, and errors of one line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

using ctscope::test_support::count_lines;
using ctscope::test_support::kModels;
using ctscope::test_support::run_cli;
using ctscope::test_support::slurp;
using ctscope::test_support::TempDir;
using Run = ctscope::test_support::CliRun;

std::string q(const fs::path& p) { return std::string("'") + p.string() + "'"; }

const std::vector<std::string> kCommands = {"inspect", "analyze", "compress", "reconstruct", "generate",
                                            "eval", "eval-compression", "synth", "report"};
const std::vector<std::string> kLongCommands = {"analyze", "compress", "reconstruct", "eval", "eval-compression",
                                                "synth"};

void expect_one_line_error(const Run& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("ctscope: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.err;
}

#define REQUIRE_STORIES() CTSCOPE_REQUIRE_MODEL("stories260K.bin")

}  // namespace

TEST(CliConventions, InspectJsonDashIsStdoutAlone) {
  REQUIRE_STORIES();
  const auto r = run_cli("inspect " + q(kModels / "stories260K.bin") + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["format"], "llama2c");  // nothing else on stdout
  EXPECT_EQ(r.err, "");
  // The old names are gone: --json takes a FILE, --json-file is unknown.
  expect_one_line_error(run_cli("inspect " + q(kModels / "stories260K.bin") + " --json-file x.json"), "--json-file");
  // With a file, the table is the terminal report (and -q leaves it out).
  TempDir d;
  auto f = run_cli("inspect " + q(kModels / "stories260K.bin") + " --json " + q(d / "i.json"));
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_NE(f.out.find("tok_embeddings"), std::string::npos) << f.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(d / "i.json"))["format"], "llama2c");
  f = run_cli("inspect " + q(kModels / "stories260K.bin") + " -q --json " + q(d / "i.json"));
  EXPECT_EQ(f.out + f.err, "");
}

TEST(CliConventions, DevStdoutWritesThroughTheShellsRedirect) {
  REQUIRE_STORIES();
  TempDir d;
  // `> file` made by the shell: what came before stays, the JSON follows (not a replaced or truncated file).
  const fs::path out = d / "out.txt";
  const int rc = std::system(("( echo before; " + std::string(CTSCOPE_BINARY) + " inspect " +
                              q(kModels / "stories260K.bin") + " --json /dev/stdout ) > " + q(out) + " 2>/dev/null")
                                 .c_str());
  ASSERT_EQ(rc, 0);
  const std::string all = slurp(out);
  ASSERT_EQ(all.rfind("before\n", 0), 0u) << all;
  EXPECT_EQ(nlohmann::json::parse(all.substr(7))["format"], "llama2c");
  for (const auto& e : fs::directory_iterator(d.path)) EXPECT_EQ(e.path().filename(), "out.txt");
}

TEST(CliConventions, AnalyzeToAFifoAndToStdout) {
  REQUIRE_STORIES();
  TempDir d;
  const std::string model = q(kModels / "stories260K.bin") + " --K 4 --no-svd --include 'layers.0'";
  // --json - : the JSON alone on stdout, the report moved to stderr.
  const auto r = run_cli("analyze " + model + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["settings"]["K"], nlohmann::json({4}));
  EXPECT_NE(r.err.find("random directions"), std::string::npos) << r.err;
  // A FIFO is written into, not replaced.
  const fs::path fifo = d / "csv.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string csv;
  std::thread reader([&] { csv = slurp(fifo); });
  const auto f = run_cli("analyze " + model + " -q --csv " + q(fifo));
  reader.join();
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(count_lines(csv), 1 + 7) << csv;  // header + the 7 matrices of layer 0
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // /dev/null: written, not replaced; and two outputs cannot share stdout.
  EXPECT_EQ(run_cli("analyze " + model + " -q --json /dev/null").code, 0);
  expect_one_line_error(run_cli("analyze " + model + " --json - --csv -"), "only one output can go to standard output");
}

TEST(CliConventions, ModelFileToStdoutIsTheSameBytes) {
  REQUIRE_STORIES();
  TempDir d;
  const std::string args = "compress " + q(kModels / "stories260K.bin") + " --K 4 --basis dct -q";
  ASSERT_EQ(run_cli(args + " -o " + q(d / "a.ct.safetensors")).code, 0);
  const auto r = run_cli(args + " -o -");  // stdout is a file here, not a terminal
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, slurp(d / "a.ct.safetensors"));
  // A directory output cannot be a stream.
  expect_one_line_error(run_cli("synth - --preset tiny"), "name a directory");
  expect_one_line_error(run_cli("reconstruct " + q(d / "a.ct.safetensors") + " -o -"), "name a directory");
}

TEST(CliConventions, OneOverwritePolicy) {
  REQUIRE_STORIES();
  TempDir d;
  // Every output is replaced when it exists - files and checkpoint directories alike, no --force needed.
  const std::string ct = q(d / "m.ct.safetensors");
  ASSERT_EQ(run_cli("compress " + q(kModels / "stories260K.bin") + " --K 4 -q -o " + ct).code, 0);
  ASSERT_EQ(run_cli("compress " + q(kModels / "stories260K.bin") + " --K 8 -q -o " + ct).code, 0);
  EXPECT_EQ(run_cli("reconstruct " + ct + " -q -o " + q(d / "rec")).code, 0);
  const auto again = run_cli("reconstruct " + ct + " -o " + q(d / "rec"));
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("K=8"), std::string::npos) << again.out;
  EXPECT_EQ(run_cli("synth " + q(d / "s") + " --preset tiny -q").code, 0);
  EXPECT_EQ(run_cli("synth " + q(d / "s") + " --preset tiny -q --seed 3").code, 0);
  // ...but never an input.
  expect_one_line_error(run_cli("compress " + ct + " --K 4 -o " + ct), "refusing to write over");
}

TEST(CliConventions, QuietLeavesOnlyRequestedOutputs) {
  REQUIRE_STORIES();
  TempDir d;
  const fs::path ids = d / "ids.txt";
  std::ofstream(ids) << "1 403 407 261 378 429 271 280 382 261 500 308 370 281 395 267 299 346 459 262\n";
  auto r = run_cli("eval " + q(kModels / "stories260K.bin") + " --text-ids " + q(ids) + " --ctx 8 -q --json " +
                   q(d / "e.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out + r.err, "");
  EXPECT_GT(nlohmann::json::parse(slurp(d / "e.json"))["ppl"].get<double>(), 1.0);
  // generate -q: the text, no speed line.
  r = run_cli("generate " + q(kModels / "stories260K.bin") + " --prompt-ids " + q(ids) + " --ids -n 4 -q");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.err, "");
  // Not quiet, piped: progress as plain lines (the last one at least), never a bar.
  r = run_cli("eval " + q(kModels / "stories260K.bin") + " --text-ids " + q(ids) + " --ctx 8");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[2/2] "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  r = run_cli("eval " + q(kModels / "stories260K.bin") + " --text-ids " + q(ids) + " --ctx 8 --progress none");
  EXPECT_EQ(r.err, "");
  expect_one_line_error(run_cli("eval " + q(kModels / "stories260K.bin") + " --progress sometimes"), "progress mode");
}

TEST(CliConventions, KErrorsNameTheOptionAndTheAcceptedValues) {
  REQUIRE_STORIES();
  const std::string m = q(kModels / "stories260K.bin");
  expect_one_line_error(run_cli("compress " + m + " -o /tmp/never.ct --K 8,64"), "--K: '8,64': one K here");
  expect_one_line_error(run_cli("compress " + m + " -o /tmp/never.ct --K 0"),
                        "--K: 0 is out of range (K must be 1..100000)");
  expect_one_line_error(run_cli("compress " + m + " -o /tmp/never.ct --K x"), "1..100000");
  expect_one_line_error(run_cli("analyze " + m + " --K 8,0"), "--K: 0 is out of range");
  EXPECT_FALSE(fs::exists("/tmp/never.ct"));
}

// Issue 10, item 14: numbers are checked once, as written, against ranges that
// mean something; nothing is clamped or wrapped.
TEST(CliConventions, NumbersAreWholeAndInRangeAsWritten) {
  REQUIRE_STORIES();
  const std::string m = q(kModels / "stories260K.bin");
  const std::string eval = "eval " + m + " --text " + q(fs::path(CTSCOPE_SOURCE_DIR) / "tests/data/story.txt");
  expect_one_line_error(run_cli(eval + " --ctx 9223372036854775808"),
                        "--ctx: 9223372036854775808 is out of range (4..16777216)");
  expect_one_line_error(run_cli(eval + " --ctx 16777217"), "--ctx: 16777217 is out of range");
  expect_one_line_error(run_cli(eval + " --ctx 3"), "--ctx: 3 is out of range (4..16777216)");
  expect_one_line_error(run_cli(eval + " --ctx +64"), "--ctx: '+64' is not a whole number");
  expect_one_line_error(run_cli(eval + " --ctx ' 64'"), "--ctx: ' 64' is not a whole number");
  expect_one_line_error(run_cli("generate " + m + " --prompt Once --seed -1"), "--seed: '-1' is not a whole number");
  expect_one_line_error(run_cli("generate " + m + " --prompt Once --seed 18446744073709551616"),
                        "--seed: 18446744073709551616 is out of range (0..18446744073709551615)");
  expect_one_line_error(run_cli("analyze " + m + " --seed 1e3"), "--seed: '1e3' is not a whole number");
  expect_one_line_error(run_cli("analyze " + m + " --lanes 1.5"), "--lanes: '1.5' is not a whole number (0..4096)");
  expect_one_line_error(run_cli("analyze " + m + " --lanes 4097"), "--lanes: 4097 is out of range (0..4096)");
  expect_one_line_error(run_cli("analyze " + m + " --top -1"), "--top: '-1' is not a whole number");
  // Real-valued bounds read as written too (not CLI11's "not in range 0.000000 to 1797...").
  expect_one_line_error(run_cli("synth /tmp/never_synth --shard-size 0"), "--shard-size: '0' is not a number > 0");
  expect_one_line_error(run_cli("finetune " + m + " --valid x.txt --lr -1"), "--lr: '-1' is not a number > 0");
  expect_one_line_error(run_cli("finetune " + m + " --valid x.txt --clip nan"), "--clip: 'nan' is not a number >= 0");
  EXPECT_FALSE(fs::exists("/tmp/never_synth"));
  // The largest values are accepted as written.
  const auto r = run_cli("generate " + m + " --prompt Once -n 3 --temperature 1 --seed 18446744073709551615 -q");
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(CliConventions, SameOptionsInEveryCommand) {
  for (const auto& c : kCommands) {
    const auto r = run_cli("help " + c);
    ASSERT_EQ(r.code, 0) << c << ": " << r.err;
    EXPECT_NE(r.out.find("ctscope " + c), std::string::npos) << c << ": usage names the command\n" << r.out;
    EXPECT_EQ(r.out.find(CTSCOPE_BINARY), std::string::npos) << c << ": not the binary's path";
    EXPECT_NE(r.out.find("-q,--quiet"), std::string::npos) << c;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << c;
    EXPECT_EQ(r.out.find("--force"), std::string::npos) << c << ": no --force (hidden where old scripts use it)";
    EXPECT_EQ(run_cli(c + " --help").out, r.out) << c;
  }
  for (const auto& c : kLongCommands)
    EXPECT_NE(run_cli("help " + c).out.find("--progress"), std::string::npos) << c;
  const auto ec = run_cli("help eval-compression").out;
  EXPECT_NE(ec.find("--basis"), std::string::npos);
  EXPECT_EQ(ec.find("--bases"), std::string::npos);
}

TEST(CliConventions, HelpVersionAndMisspeltCommands) {
  const auto v = run_cli("version");
  ASSERT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("ctscope 0.", 0), 0u) << v.out;
  EXPECT_EQ(count_lines(v.out), 1);
  EXPECT_EQ(run_cli("--version").out, v.out);
  EXPECT_EQ(run_cli("-V").out, v.out);
  const auto h = run_cli("help");
  ASSERT_EQ(h.code, 0);
  EXPECT_EQ(h.out, run_cli("--help").out);
  for (const auto& c : kCommands) EXPECT_NE(h.out.find(c), std::string::npos) << c;
  EXPECT_NE(h.out.find("Conventions"), std::string::npos);

  expect_one_line_error(run_cli("analyse model.gguf"), "did you mean 'analyze'?");
  expect_one_line_error(run_cli("evl"), "did you mean 'eval'?");
  expect_one_line_error(run_cli("compres x"), "did you mean 'compress'?");
  expect_one_line_error(run_cli("frobnicate"), "commands: inspect, analyze");
  expect_one_line_error(run_cli("help analyse"), "did you mean 'analyze'?");
  // Parser errors: one line, pointing at the command's help.
  expect_one_line_error(run_cli("analyze"), "see ctscope analyze --help");
  expect_one_line_error(run_cli("inspect a b"), "ctscope inspect --help");
}
