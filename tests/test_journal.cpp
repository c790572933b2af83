// Resumable runs (analyze --journal): the per-matrix record keeps every bit,
// a run killed after some matrices and resumed equals one never interrupted,
// a journal of another run is refused, and a torn last record is computed again.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "ct/analysis_journal.hpp"
#include "ct/matrix_record_codec.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace ctscope {
namespace {

using namespace test_support;
using nlohmann::json;

// run_cli with environment variables (VAR=value words) set for ctscope.
ct::MatrixRecord odd_record() {
  ct::MatrixRecord r;
  r.name = std::string("blk.3.ffn_down.weight\0tail", 26);  // a NUL inside the name survives too
  r.layer = 3;
  r.role = Role::DownProj;
  r.dtype = DType::BF16;
  auto& m = r.result;
  m.n = 172;
  m.d = 64;
  m.ss = 1.0 / 3.0;
  m.sum = -0.0;
  m.sst = std::numeric_limits<double>::denorm_min();
  m.weight_pr = std::nextafter(1.0, 2.0);
  m.stable_rank = 1e308;
  m.flops = 12345678901.0;
  m.gram_s = 0.1;
  m.krylov_dim = 48;
  for (int K : {1, 2}) {
    ct::FitResult f;
    f.K = K;
    f.basis = K == 1 ? ct::BasisKind::Universal : ct::BasisKind::Svd;
    f.fitted = K == 1;
    f.trivial = K == 2;
    f.r2 = std::sqrt(2.0) / 7;
    f.r2_svd = 0.9999999999999999;
    f.amplitude_pr_null = std::numeric_limits<double>::quiet_NaN();
    f.amplitude_n95 = 7;
    m.fits.push_back(f);
  }
  m.spectrum = ct::Spectrum{{3.0, 2.0 / 3, 1e-300}, 5, std::acos(-1.0)};
  return r;
}

TEST(MatrixRecord, RoundTripsEveryBit) {
  const ct::MatrixRecord r = odd_record();
  const std::string bytes = ct::encode_record(r);
  const ct::MatrixRecord back = ct::decode_record(bytes);
  EXPECT_EQ(ct::encode_record(back), bytes);  // same bytes: every double's bits, every field
  EXPECT_EQ(back.name, r.name);
  EXPECT_EQ(back.role, Role::DownProj);
  EXPECT_EQ(back.result.fits.size(), 2u);
  EXPECT_TRUE(std::signbit(back.result.sum));
  EXPECT_EQ(back.result.sst, std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(back.result.ss, 1.0 / 3.0);
  EXPECT_TRUE(std::isnan(back.result.fits[0].amplitude_pr_null));
  EXPECT_EQ(back.result.fits[1].basis, ct::BasisKind::Svd);
  EXPECT_FALSE(back.result.fits[1].fitted);
  ASSERT_TRUE(back.result.spectrum);
  EXPECT_EQ(back.result.spectrum->eigenvalues, r.result.spectrum->eigenvalues);
  EXPECT_EQ(back.result.spectrum->weight_pr_sv, std::acos(-1.0));
}

TEST(MatrixRecord, RefusesCutOrPaddedBytes) {
  const std::string bytes = ct::encode_record(odd_record());
  for (size_t cut : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_THROW(ct::decode_record(std::string_view(bytes).substr(0, cut)), Error) << cut;
  EXPECT_THROW(ct::decode_record(bytes + "x"), Error);
}

const std::string kArgs = " --basis gaussian,universal,svd --K 2,8 -q";

CliRun analyze(const fs::path& model, const fs::path& json_out, const std::string& extra, const std::string& env = "") {
  return run_cli("analyze " + model.string() + kArgs + " --json " + json_out.string() + extra, env);
}

// Records whose frame is whole (magic, length, record, checksum), counted
// after the two header lines.
size_t journal_records(const fs::path& journal) {
  const std::string bytes = slurp(journal);
  size_t at = bytes.find('\n', bytes.find('\n') + 1) + 1, n = 0;
  while (bytes.size() - at >= 20 && bytes.compare(at, 4, "CTSR") == 0) {
    uint64_t len;
    std::memcpy(&len, bytes.data() + at + 4, 8);
    if (len > bytes.size() - at - 20) break;
    at += 20 + len;
    ++n;
  }
  return n;
}

TEST(Journal, KilledThenResumedEqualsUninterrupted) {
  const fs::path& model = tiny_synthetic_model();
  TempDir d("journal");
  ASSERT_EQ(analyze(model, d / "whole.json", "").code, 0);
  // Killed (SIGKILL, the test hook) right after the 7th record reached the disk: no output, 7 records.
  const CliRun killed =
      analyze(model, d / "resumed.json", " --journal " + (d / "j").string(), "CTSCOPE_TEST_KILL_AFTER_RECORDS=7");
  EXPECT_NE(killed.code, 0);
  EXPECT_FALSE(fs::exists(d / "resumed.json"));
  EXPECT_EQ(journal_records(d / "j"), 7u);
  const CliRun resumed = analyze(model, d / "resumed.json", " --journal " + (d / "j").string());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(result_without_timing(d / "resumed.json"), result_without_timing(d / "whole.json"));
  EXPECT_EQ(journal_records(d / "j"), 30u);
  // A third run computes nothing and still gives the same result.
  ASSERT_EQ(analyze(model, d / "again.json", " --journal " + (d / "j").string()).code, 0);
  EXPECT_EQ(result_without_timing(d / "again.json"), result_without_timing(d / "whole.json"));
  EXPECT_EQ(json::parse(slurp(d / "again.json"))["timing"]["bytes_streamed"], 0.0);
}

TEST(Journal, TornLastRecordIsComputedAgain) {
  const fs::path& model = tiny_synthetic_model();
  TempDir d("journal");
  ASSERT_EQ(analyze(model, d / "whole.json", " --journal " + (d / "j").string()).code, 0);
  const std::string full = slurp(d / "j");
  // Killed mid-write: the last record lacks its last bytes (its checksum and some data).
  write_bytes(d / "j", std::string_view(full).substr(0, full.size() - 13));
  EXPECT_EQ(journal_records(d / "j"), 29u);
  const CliRun r = analyze(model, d / "after.json", " --journal " + (d / "j").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(result_without_timing(d / "after.json"), result_without_timing(d / "whole.json"));
  // Cut off and written again (its seconds differ, so not byte for byte): 30 whole records, the first 29 untouched.
  EXPECT_EQ(journal_records(d / "j"), 30u);
  const std::string after = slurp(d / "j");
  const size_t kept = full.rfind("CTSR");
  EXPECT_TRUE(after.size() > kept && after.compare(0, kept, full, 0, kept) == 0);
  // One matrix streamed again, not thirty.
  EXPECT_GT(json::parse(slurp(d / "after.json"))["timing"]["bytes_streamed"].get<double>(), 0.0);
  EXPECT_LT(json::parse(slurp(d / "after.json"))["timing"]["bytes_streamed"].get<double>(),
            json::parse(slurp(d / "whole.json"))["timing"]["bytes_streamed"].get<double>() / 10);
}

TEST(Journal, ForeignJournalIsRefusedInOneLine) {
  const fs::path& model = tiny_synthetic_model();
  TempDir d("journal");
  ASSERT_EQ(analyze(model, d / "a.json", " --journal " + (d / "j").string()).code, 0);
  const std::string before = slurp(d / "j");
  auto refused = [&](const CliRun& r, const std::string& what) {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(d / "b.json"));
    EXPECT_EQ(slurp(d / "j"), before);  // untouched
  };
  // Other settings: another K, another seed.
  refused(run_cli("analyze " + model.string() + " --basis gaussian,universal,svd --K 2,4 -q --json " +
                  (d / "b.json").string() + " --journal " + (d / "j").string()),
          "other settings");
  refused(analyze(model, d / "b.json", " --seed 7 --journal " + (d / "j").string()), "other settings");
  // Another model: the same shapes, other weights.
  const CliRun other = run_cli("synth " + (d / "other").string() + " --preset tiny --seed 9 -q");
  ASSERT_EQ(other.code, 0) << other.err;
  refused(analyze(d / "other", d / "b.json", " --journal " + (d / "j").string()), "another model");
  // Not a journal at all.
  write_bytes(d / "text", std::string_view("hello\n"));
  const CliRun text = analyze(model, d / "b.json", " --journal " + (d / "text").string());
  EXPECT_EQ(text.code, 2);
  EXPECT_NE(text.err.find("not a ctscope analyze journal"), std::string::npos) << text.err;
}

}  // namespace
}  // namespace ctscope
