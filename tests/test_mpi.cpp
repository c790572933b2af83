// `mpirun -np 2 ctscope analyze`: the same numbers as one process, and bad
// runs (more ranks than matrices, a model one rank lacks) end in one line,
// exit 2, nothing written. Skipped where MPI or mpirun is absent.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace ctscope {
namespace {

using namespace test_support;
using nlohmann::json;

// mpirun as root needs its consent; --bind-to none lets each rank use every core
// (OpenMPI pins a rank to one core otherwise); --oversubscribe: more ranks than cores.
const std::string kMpirun =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
    "mpirun --oversubscribe --bind-to none";

#define REQUIRE_MPIRUN()                                                                       \
  if (!CTSCOPE_HAS_MPI) GTEST_SKIP() << "ctscope built without MPI (-DCTSCOPE_MPI=OFF)";        \
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0)                                   \
  GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin)"

// `mpirun RANKS` where RANKS holds "-np N ctscope ARGS" groups ("{ctscope}" stands for the binary).
CliRun mpirun(const std::string& ranks) {
  std::string cmd = ranks;
  for (size_t at; (at = cmd.find("{ctscope}")) != std::string::npos;) cmd.replace(at, 9, CTSCOPE_BINARY);
  TempDir io("mpi");
  const int status = std::system((same_blas_core_env() + kMpirun + " " + cmd + " >" + (io / "out").string() + " 2>" +
                                  (io / "err").string() + " </dev/null")
                                     .c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(io / "out"), slurp(io / "err")};
}

const std::string kArgs = " --basis gaussian,universal,svd --K 2,8 -q";

TEST(Mpi, TwoRanksGiveTheSingleProcessResult) {
  REQUIRE_MPIRUN();
  TempDir d("mpi");
  const std::string model = tiny_synthetic_model().string();
  ASSERT_EQ(run_cli("analyze " + model + kArgs + " --json " + (d / "one.json").string()).code, 0);
  const CliRun two = mpirun("-np 2 {ctscope} analyze " + model + kArgs + " --json " + (d / "two.json").string() +
                            " --journal " + (d / "j").string());
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(result_without_timing(d / "two.json"), result_without_timing(d / "one.json"));
  EXPECT_EQ(json::parse(slurp(d / "two.json"))["timing"]["bytes_streamed"],
            json::parse(slurp(d / "one.json"))["timing"]["bytes_streamed"]);
  // The journal rank 0 kept serves a one-process rerun whole: nothing is computed again.
  ASSERT_EQ(run_cli("analyze " + model + kArgs + " --json " + (d / "re.json").string() + " --journal " +
                    (d / "j").string())
                .code,
            0);
  EXPECT_EQ(result_without_timing(d / "re.json"), result_without_timing(d / "one.json"));
  EXPECT_EQ(json::parse(slurp(d / "re.json"))["timing"]["bytes_streamed"], 0.0);
}

TEST(Mpi, SeveralModelsAreEachDividedAmongTheRanks) {
  REQUIRE_MPIRUN();
  TempDir d("mpi");
  const std::string models = tiny_synthetic_model().string() + " " + (kModels / "stories260K.bin").string();
  if (!fs::exists(kModels / "stories260K.bin")) GTEST_SKIP() << "stories260K.bin not in " << kModels;
  ASSERT_EQ(run_cli("analyze " + models + kArgs + " --json " + (d / "one.json").string()).code, 0);
  const CliRun two = mpirun("-np 2 {ctscope} analyze " + models + kArgs + " --json " + (d / "two.json").string());
  ASSERT_EQ(two.code, 0) << two.err;
  auto without_timing = [](const fs::path& f) {
    json j = json::parse(slurp(f));
    j["tool"].erase("run_utc");
    j.erase("timing");
    for (auto& m : j["models"]) {
      m.erase("timing");
      for (auto& x : m["matrices"]) x.erase("cost");
    }
    return j;
  };
  const json one = without_timing(d / "one.json");
  ASSERT_EQ(one["models"].size(), 2u);
  EXPECT_EQ(without_timing(d / "two.json"), one);
}

// ctscope's line on stderr (mpirun may add its own notice of the exit code).
void expect_ctscope_error(const CliRun& r, const std::string& what, const fs::path& not_written) {
  EXPECT_EQ(r.code, 2) << r.err;
  size_t lines = 0;
  for (size_t at = r.err.find("ctscope: error: "); at != std::string::npos; at = r.err.find("ctscope: error: ", at + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(not_written));
}

TEST(Mpi, MoreRanksThanMatricesIsRefused) {
  REQUIRE_MPIRUN();
  TempDir d("mpi");
  expect_ctscope_error(mpirun("-np 3 {ctscope} analyze " + tiny_synthetic_model().string() +
                              " --include q_proj --layers 0-1 -q --json " + (d / "r.json").string()),
                       "3 MPI ranks for 2 matrices", d / "r.json");
}

TEST(Mpi, ModelMissingOnOneRankIsRefused) {
  REQUIRE_MPIRUN();
  TempDir d("mpi");
  const std::string out = " -q --json " + (d / "r.json").string();
  // Rank 1 is given a path that does not exist, as on a node whose file system lacks the model.
  expect_ctscope_error(mpirun("-np 1 {ctscope} analyze " + tiny_synthetic_model().string() + out + " : -np 1 {ctscope} analyze " +
                              (d / "absent").string() + out),
                       "rank 1 of 2: ", d / "r.json");
}

}  // namespace
}  // namespace ctscope
