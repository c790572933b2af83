// What a training run trains and where it starts (train/trainable), and the
// trained model's file (train/trained_model_file): every mode starts at the
// model `eval` runs on compress's file; a written file reads back as the
// parameters that wrote it (after every trainable parameter moved), byte for
// byte the same each time; --init starts where that file ends and refuses a
// file of another model or compression; stored sizes against hand counts.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_weights.hpp"
#include "ctfile/ct_writer.hpp"
#include "ctfile/reconstruct.hpp"
#include "io/checkpoint.hpp"
#include "test_support.hpp"
#include "train/trainable.hpp"
#include "train/trained_model_file.hpp"
#include "util/error.hpp"

namespace ctscope::train {
namespace {

using test_support::kModels;
using Kind = Trainable::Kind;

// The largest |a - b| over the largest |b|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// The weights eval runs from a .ct.safetensors.
TrainWeights<float> weights_of_file(const std::filesystem::path& file) {
  return train_weights_from<float>(ctfile::load_inference_weights(ctfile::open_for_inference(file)));
}

StartSettings settings(ct::BasisKind basis, int K, const std::string& trainable) {
  StartSettings s;
  s.fit.basis = basis, s.fit.K = K;
  s.trainable = Trainable::parse(trainable);
  return s;
}

// Moves every trainable parameter by a different small amount.
void perturb(ParameterSet<float>& ps) {
  int k = 0;
  for (auto& p : ps.params()) {
    if (!p.trainable) continue;
    for (size_t i = 0; i < p.value.size(); ++i) p.value[i] += 0.01f * static_cast<float>(std::sin(0.7 * static_cast<double>(i) + ++k));
  }
}

TEST(Trainable, ParsesExactlyTheFourForms) {
  EXPECT_EQ(Trainable::parse("amplitudes").kind, Kind::Amplitudes);
  EXPECT_EQ(Trainable::parse("amplitudes+norms").kind, Kind::AmplitudesNorms);
  EXPECT_EQ(Trainable::parse("full").kind, Kind::Full);
  const Trainable lora = Trainable::parse("lora:16");
  EXPECT_EQ(lora.kind, Kind::Lora);
  EXPECT_EQ(lora.lora_rank, 16);
  for (const char* s : {"amplitudes", "amplitudes+norms", "lora:1", "lora:16", "full"})
    EXPECT_EQ(Trainable::parse(s).name(), s);
  for (const char* s : {"lora", "lora:0", "lora:x", "lora:-2", "lora: 2", "lora:2x", "amplitude", "", "Full"}) {
    try {
      Trainable::parse(s);
      ADD_FAILURE() << "accepted '" << s << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("amplitudes, amplitudes+norms, lora:R"), std::string::npos) << e.what();
    }
  }
}

// Step 0 of every mode is the model eval runs on compress's file, for a fixed
// shared basis (gaussian, dct), svd's per-matrix basis and the universal
// basis with its offset; each mode trains what it says.
TEST(Trainable, EveryModeStartsAtTheCompressedModel) {
  CTSCOPE_REQUIRE_MODEL("stories260K.bin");
  const Checkpoint ck = Checkpoint::open(kModels / "stories260K.bin");
  const test_support::TempDir dir("trainable_start");
  const auto dense = train_weights_from<float>(load_llama_weights(ck));
  const ModelConfig& c = ck.config;
  const uint64_t norms = static_cast<uint64_t>((2 * c.n_layers + 1) * c.dim);
  for (auto basis : {ct::BasisKind::Gaussian, ct::BasisKind::Dct, ct::BasisKind::Svd, ct::BasisKind::Universal}) {
    ctfile::CompressSettings cs;
    cs.K = 8, cs.basis = basis;
    const auto out = dir / (std::string(ct::basis_name(basis)) + ".ct.safetensors");
    const auto sum = ctfile::compress_checkpoint(ck, cs, out);
    const TrainWeights<float> ref = weights_of_file(out);
    uint64_t lora_factors = 0;
    for (const auto& t : ck.tensors)
      if (t.is_matrix() && t.alias_of.empty()) lora_factors += static_cast<uint64_t>(2 * (t.rows() + t.cols()));
    for (const char* mode : {"amplitudes", "amplitudes+norms", "lora:2", "full"}) {
      SCOPED_TRACE(std::string(ct::basis_name(basis)) + " " + mode);
      ParameterSet<float> ps = start_parameters(ck, settings(basis, 8, mode));
      const TrainWeights<float> w = ps.dense_weights();
      int changed = 0;
      for (const auto& t : model_tensors(c, ref.tied)) {
        EXPECT_LE(relative_difference(w.tensor(t.layer, t.role), ref.tensor(t.layer, t.role)), 1e-5)
            << hf_tensor_name(t.layer, t.role);
        changed += w.tensor(t.layer, t.role) != dense.tensor(t.layer, t.role);
      }
      EXPECT_EQ(changed, static_cast<int>(sum.fitted_matrices));  // the fitted ones moved: the comparison says something
      const uint64_t trainable = ps.trainable_count();
      switch (Trainable::parse(mode).kind) {
        case Kind::Amplitudes: EXPECT_EQ(trainable, sum.amplitude_params); break;
        case Kind::AmplitudesNorms: EXPECT_EQ(trainable, sum.amplitude_params + norms); break;
        case Kind::Lora: EXPECT_EQ(trainable, lora_factors); break;
        case Kind::Full: EXPECT_EQ(trainable, ck.total_params()); break;
      }
    }
  }
}

TEST(Trainable, RefusesAKBeyondEveryRow) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  try {
    start_parameters(ck, settings(ct::BasisKind::Gaussian, 200, "lora:2"));  // rows are 64 and 172 long
    ADD_FAILURE() << "K = 200 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(ck.path.string()), std::string::npos) << e.what();
  }
}

// Written, then read back as eval reads it: the parameters' model, after
// every trainable parameter (amplitudes, svd/universal bases, offsets, norms,
// LoRA factors, dense tensors) moved. Amplitude matrices are rebuilt by the
// reader in double (A G), so to float rounding; whatever is stored whole, exactly.
// The tiny model is BF16: trained tensors are stored F32, untouched ones verbatim.
TEST(TrainedModelFile, ReadsBackAsTheTrainedParameters) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  const test_support::TempDir dir("trained_file");
  struct Case {
    ct::BasisKind basis;
    const char* mode;
    bool train_basis;
  };
  for (const Case& v : {Case{ct::BasisKind::Gaussian, "amplitudes", false}, Case{ct::BasisKind::Svd, "amplitudes", true},
                        Case{ct::BasisKind::Universal, "amplitudes+norms", true}, Case{ct::BasisKind::Dct, "lora:2", false},
                        Case{ct::BasisKind::Gaussian, "full", false}}) {
    const std::string tag = std::string(ct::basis_name(v.basis)) + "_" + v.mode;
    SCOPED_TRACE(tag);
    StartSettings s = settings(v.basis, 8, v.mode);
    s.train_basis = v.train_basis;
    ParameterSet<float> ps = start_parameters(ck, s);
    perturb(ps);
    const auto out = dir / (tag + ".ct.safetensors");
    write_trained_model(ps, ck, s, out);
    const TrainWeights<float> back = weights_of_file(out);
    const TrainWeights<float> trained = ps.dense_weights();
    for (const auto& t : model_tensors(ck.config, back.tied)) {
      const auto& want = trained.tensor(t.layer, t.role);
      if (ps.link_kind(t.layer, t.role) == LinkKind::Amplitudes)
        EXPECT_LE(relative_difference(back.tensor(t.layer, t.role), want), 1e-6) << hf_tensor_name(t.layer, t.role);
      else
        EXPECT_EQ(back.tensor(t.layer, t.role), want) << hf_tensor_name(t.layer, t.role);
    }
    const Checkpoint file = Checkpoint::open(out);
    EXPECT_EQ(file.metadata.at("trainable"), v.mode);
    const bool norms_trained = std::string(v.mode) != "amplitudes" && std::string(v.mode) != "lora:2";
    const TensorInfo* norm = file.find(hf_tensor_name(0, Role::InputLayernorm));
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(norm->dtype, norms_trained ? DType::F32 : DType::BF16);
    const bool factored = ps.link_kind(0, Role::QProj) == LinkKind::Amplitudes;  // else stored whole
    EXPECT_EQ(file.find(hf_tensor_name(0, Role::QProj)) == nullptr, factored);
    EXPECT_EQ(file.find(hf_tensor_name(0, Role::QProj) + ".ct_amplitudes") != nullptr, factored);
    if (std::string(v.mode) == "full") {  // no fitted matrix at all: reconstruct still rebuilds the model
      EXPECT_NO_THROW(ctfile::reconstruct_checkpoint(ctfile::CtReader(Checkpoint::open(out)), dir / "full_hf", false));
    }
  }
}

TEST(TrainedModelFile, SameParametersSameBytes) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  const test_support::TempDir dir("trained_bytes");
  const StartSettings s = settings(ct::BasisKind::Universal, 8, "amplitudes+norms");
  ParameterSet<float> ps = start_parameters(ck, s);
  perturb(ps);
  write_trained_model(ps, ck, s, dir / "a.ct.safetensors");
  write_trained_model(ps, ck, s, dir / "b.ct.safetensors");
  const std::string a = test_support::slurp(dir / "a.ct.safetensors");
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a, test_support::slurp(dir / "b.ct.safetensors"));
}

// --init: the parameters start where the file that was written ends (its
// amplitudes, trained basis and offset, trained norms), in every mode.
TEST(TrainableInit, StartsWhereTheWrittenFileEnds) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  const test_support::TempDir dir("trainable_init");
  StartSettings s = settings(ct::BasisKind::Universal, 8, "amplitudes+norms");
  s.train_basis = true;
  ParameterSet<float> trained = start_parameters(ck, s);
  perturb(trained);
  const auto file = dir / "trained.ct.safetensors";
  write_trained_model(trained, ck, s, file);
  s.init = file.string();
  const ParameterSet<float> again = start_parameters(ck, s);
  ASSERT_EQ(again.params().size(), trained.params().size());
  for (size_t i = 0; i < again.params().size(); ++i) {
    EXPECT_EQ(again.params()[i].name, trained.params()[i].name);
    EXPECT_EQ(again.params()[i].value, trained.params()[i].value) << trained.params()[i].name;
  }
  // Other modes start from the same model: its trained norms included.
  const TrainWeights<float> written = weights_of_file(file);
  for (const char* mode : {"amplitudes", "lora:2", "full"}) {
    SCOPED_TRACE(mode);
    StartSettings m = settings(ct::BasisKind::Universal, 8, mode);
    m.init = file.string();
    const TrainWeights<float> w = start_parameters(ck, m).dense_weights();
    for (const auto& t : model_tensors(ck.config, written.tied))
      EXPECT_LE(relative_difference(w.tensor(t.layer, t.role), written.tensor(t.layer, t.role)), 1e-6)
          << hf_tensor_name(t.layer, t.role);
  }
}

void expect_refused(const Checkpoint& ck, const StartSettings& s, const std::string& says) {
  try {
    start_parameters(ck, s);
    ADD_FAILURE() << "init " << s.init << " accepted; expected: " << says;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(s.init + ": ", 0), 0u) << what;  // one line naming the file
    EXPECT_NE(what.find(says), std::string::npos) << what;
  }
}

TEST(TrainableInit, RefusesAnotherModelOrCompression) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  const test_support::TempDir dir("trainable_refuse");
  ctfile::CompressSettings cs;
  cs.K = 8;
  const auto gaussian = dir / "k8.ct.safetensors";
  ctfile::compress_checkpoint(ck, cs, gaussian);
  auto from = [&](const std::filesystem::path& init, ct::BasisKind basis, int K) {
    StartSettings s = settings(basis, K, "amplitudes");
    s.init = init.string();
    return s;
  };
  EXPECT_NO_THROW(start_parameters(ck, from(gaussian, ct::BasisKind::Gaussian, 8)));
  expect_refused(ck, from(gaussian, ct::BasisKind::Gaussian, 16), "its K is 8");
  expect_refused(ck, from(gaussian, ct::BasisKind::Dct, 8), "its basis is gaussian");
  StartSettings narrower = from(gaussian, ct::BasisKind::Gaussian, 8);
  narrower.fit.selection.include = "q_proj";
  expect_refused(ck, narrower, "it fits 30 matrices, the settings select 4");
  // A LoRA result stores its matrices whole: nothing to start amplitudes from.
  StartSettings lora = settings(ct::BasisKind::Gaussian, 8, "lora:2");
  ParameterSet<float> ps = start_parameters(ck, lora);
  write_trained_model(ps, ck, lora, dir / "lora.ct.safetensors");
  expect_refused(ck, from(dir / "lora.ct.safetensors", ct::BasisKind::Gaussian, 8), "it fits 0 matrices");
  // Another model (two layers instead of four).
  const auto other = dir / "other";
  const test_support::CliRun r = test_support::run_cli("synth " + other.string() + " --preset tiny --layers 2 -q");
  ASSERT_EQ(r.code, 0) << r.err;
  ctfile::compress_checkpoint(Checkpoint::open(other), cs, dir / "other.ct.safetensors");
  expect_refused(ck, from(dir / "other.ct.safetensors", ct::BasisKind::Gaussian, 8), "tensors, the source");
}

// The tiny model (dim 64, hidden 172, 4 layers, KV dim 32, vocab 256, own
// classifier) at K = 8, every matrix fitted: per layer 600 rows (q 64, k 32,
// v 32, o 64, gate 172, up 172, down 64), plus embedding and classifier 256
// each: 2912 rows, 23296 amplitudes; unfitted: 4 x 2 x 64 + 64 = 576 norm weights.
TEST(Trainable, StoredParamsCountWhatTheFileNeeds) {
  const Checkpoint ck = Checkpoint::open(test_support::tiny_synthetic_model());
  auto stored = [&](ct::BasisKind basis, const char* mode) {
    const StartSettings s = settings(basis, 8, mode);
    return stored_params(start_parameters(ck, s), ck, s);
  };
  EXPECT_EQ(stored(ct::BasisKind::Gaussian, "amplitudes"), 23296u + 576u);
  EXPECT_EQ(stored(ct::BasisKind::Gaussian, "amplitudes+norms"), 23296u + 576u);
  // svd: a K x d basis per matrix: 4 x (6 x 8 x 64 + 8 x 172) + 2 x 8 x 64 = 18816.
  EXPECT_EQ(stored(ct::BasisKind::Svd, "amplitudes"), 23872u + 18816u);
  // universal: (K + 1) x d per row length: 9 x 64 + 9 x 172 = 2124.
  EXPECT_EQ(stored(ct::BasisKind::Universal, "amplitudes"), 23872u + 2124u);
  // LoRA rank 2 adds 2 (n + d) per matrix: 4 x 2312 + 2 x 640 = 10528.
  EXPECT_EQ(stored(ct::BasisKind::Gaussian, "lora:2"), 23872u + 10528u);
  // full: every parameter: 4 x (45312 + 128) + 2 x 16384 + 64.
  EXPECT_EQ(stored(ct::BasisKind::Gaussian, "full"), 214592u);
}

}  // namespace
}  // namespace ctscope::train
