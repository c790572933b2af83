// Findings of scripts/mutation_campaign.py, each rebuilt here from a small
// edit of a real or synthetic input: every one must now exit 0 or 2 with one
// line naming the file, and whatever ctscope writes, ctscope must read.
#include <gtest/gtest.h>

#include <string>

#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope::test_support;

namespace {
std::string q(const fs::path& p) { return std::string("'") + p.string() + "'"; }
}  // namespace

TEST(MutationFindings, AProjectionWithTheWrongRowCountIsNotCompressedIntoAnUnrebuildableFile) {
  // Campaign seed 3908368912, mutant 1032: one GGUF dimension set to 0 gave
  // blk.4.attn_k.weight the shape [0, 64]; compress wrote a file whose
  // reconstruct then read 32 rows of nothing (SIGSEGV in the RoPE reordering).
  CTSCOPE_REQUIRE_MODEL("tinyllamas-stories-260k-f32.gguf");
  TempDir tmp;
  std::string bytes = slurp(kModels / "tinyllamas-stories-260k-f32.gguf");
  const std::string name = "blk.4.attn_k.weight";
  const size_t at = bytes.find(name);
  ASSERT_NE(at, std::string::npos);
  // GGUF v1 tensor info: name, u32 n_dims, u32 dims (fastest first: 64, then the 32 rows).
  const size_t rows = at + name.size() + 4 + 4;
  ASSERT_EQ(bytes[rows], 32);
  bytes[rows] = 0;
  const fs::path m = tmp / "m.gguf", out = tmp / "m.ct.safetensors";
  write_bytes(m, bytes);
  const auto r = run_cli("compress " + q(m) + " -o " + q(out) + " --K 4 -q");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(name + " has 0 rows, but the config's 4 heads of 8 need 32"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}
