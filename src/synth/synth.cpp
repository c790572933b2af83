#include "synth/synth.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numbers>
#include <random>

#include "io/gguf_llama.hpp"
#include "io/gguf_writer.hpp"
#include "io/quantize.hpp"
#include "model/roles.hpp"
#include "model/rope_permute.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/normal_rng.hpp"
#include "util/thread_pool.hpp"

namespace ctscope {
namespace {

ModelConfig make_config(int64_t dim, int64_t hidden, int64_t layers, int64_t heads, int64_t kv, int64_t vocab,
                        int64_t seq) {
  ModelConfig c;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv;
  c.vocab_size = vocab;
  c.max_seq_len = seq;
  c.rope = RopeLayout::HalfSplit;
  return c;
}

constexpr double kWeightStd = 0.02;  // per-element std of the matrices (typical of Llama init and training)
constexpr double kNormStd = 0.02;    // RMSNorm gains: 1 plus this much noise

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
  return h;
}

// A Haar-random orthogonal m x m matrix (row-major float): QR of a Gaussian
// matrix with R's diagonal made positive.
std::vector<float> random_orthogonal(int64_t m, NormalRng& g) {
  const auto mm = static_cast<size_t>(m);
  std::vector<double> a(mm * mm), tau(mm);
  for (auto& v : a) v = g();
  if (LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(m), a.data(),
                     static_cast<lapack_int>(m), tau.data()) != 0)
    throw Error("synth: QR factorization failed");
  std::vector<double> sign(mm);
  for (size_t i = 0; i < mm; ++i) sign[i] = a[i * mm + i] < 0 ? -1.0 : 1.0;
  if (LAPACKE_dorgqr(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(m),
                     static_cast<lapack_int>(m), a.data(), static_cast<lapack_int>(m), tau.data()) != 0)
    throw Error("synth: QR factorization failed");
  std::vector<float> q(mm * mm);
  for (size_t i = 0; i < mm; ++i)
    for (size_t j = 0; j < mm; ++j) q[i * mm + j] = static_cast<float>(a[i * mm + j] * sign[j]);
  return q;
}

std::vector<size_t> random_permutation(size_t n, NormalRng& g) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[g.bits() % i]);
  return p;
}

// Population PR of the spectrum lambda_i = i^-alpha, i = 1..d.
double power_law_pr(double alpha, int64_t d) {
  double s1 = 0, s2 = 0;
  for (int64_t i = 1; i <= d; ++i) {
    const double l = std::pow(static_cast<double>(i), -alpha);
    s1 += l;
    s2 += l * l;
  }
  return s1 * s1 / s2;
}

// The exponent whose n-sample PR is about `target`: a sample of n rows turns a
// population PR P into about 1 / (1/P + 1/n) (second moment of a Wishart).
double exponent_for(double target, int64_t n, int64_t d) {
  const double rows = static_cast<double>(std::max<int64_t>(n - 1, 1));  // centering costs one row
  const double pop = target < rows ? 1.0 / (1.0 / target - 1.0 / rows) : static_cast<double>(d);
  if (pop >= power_law_pr(0.0, d)) return 0.0;
  double lo = 0, hi = 8;
  for (int it = 0; it < 50; ++it) {
    const double mid = 0.5 * (lo + hi);
    (power_law_pr(mid, d) > pop ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// d = a * b with a the largest divisor <= sqrt(d): Q = A (x) B is orthogonal
// and applying it costs d (a + b) per row instead of d^2.
std::pair<int64_t, int64_t> split_dim(int64_t d) {
  int64_t a = 1;
  for (int64_t f = 1; f * f <= d; ++f)
    if (d % f == 0) a = f;
  return {a, d / a};
}

// Row panels of a matrix, float32: (first row, rows, data) in order.
using PanelSink = std::function<void(int64_t r0, int64_t rows, float* data)>;

// Makes one matrix W = Z diag(s) Q^T (n x d) in row panels of a multiple of
// `row_multiple` rows (whole heads, for the RoPE permutation of GGUF's q/k).
// Q = S P (A (x) B) Pin: random orthogonal A, B, output permutation P with sign
// flips S, and a random assignment Pin of spectrum entries to input directions.
void make_matrix(int64_t n, int64_t d, uint64_t seed, double target_pr, int64_t row_multiple, const PanelSink& sink) {
  const auto split = split_dim(d);  // (not a structured binding: lambdas below capture a and b)
  const int64_t a = split.first, b = split.second;
  NormalRng g(seed);
  const auto A = random_orthogonal(a, g), B = random_orthogonal(b, g);
  const auto in_perm = random_permutation(static_cast<size_t>(d), g);
  const auto out_perm = random_permutation(static_cast<size_t>(d), g);
  std::vector<float> sign(static_cast<size_t>(d));
  for (auto& s : sign) s = (g.bits() & 1) ? -1.f : 1.f;

  // Spectrum s_i^2 = i^-alpha, scaled so that a row has squared norm d * std^2.
  const double alpha = exponent_for(target_pr, n, d);
  std::vector<double> s2(static_cast<size_t>(d));
  double total = 0;
  for (int64_t i = 0; i < d; ++i) total += s2[static_cast<size_t>(i)] = std::pow(static_cast<double>(i + 1), -alpha);
  std::vector<float> scale(static_cast<size_t>(d));
  for (size_t c = 0; c < scale.size(); ++c)
    scale[c] = static_cast<float>(std::sqrt(s2[in_perm[c]] * static_cast<double>(d) / total) * kWeightStd);

  int64_t panel = std::clamp<int64_t>((int64_t{1} << 20) / d, 1, n);
  panel = std::max(row_multiple, panel / row_multiple * row_multiple);
  const auto pd = static_cast<size_t>(panel * d);
  std::vector<float> buf1(pd), buf2(pd), out(pd);
  for (int64_t r0 = 0; r0 < n; r0 += panel) {
    const int64_t np = std::min(panel, n - r0);
    // Z diag(scale), laid out [i][r][j] (c = i*b + j) so that A and B each
    // apply to the whole panel as one GEMM. One RNG per row: output does not
    // depend on the panel size or the thread count.
    parallel_for(np, 1, [&](int64_t r_begin, int64_t r_end, int) {
      for (int64_t r = r_begin; r < r_end; ++r) {
        NormalRng gr(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(r0 + r) + 1)));
        for (int64_t i = 0; i < a; ++i)
          for (int64_t j = 0; j < b; ++j) {
            const auto c = static_cast<size_t>(i * b + j);
            buf1[static_cast<size_t>((i * np + r) * b + j)] = static_cast<float>(gr()) * scale[c];
          }
      }
    });
    const auto ia = static_cast<blasint>(a), ib = static_cast<blasint>(b), inpb = static_cast<blasint>(np * b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ia, inpb, ia, 1.f, A.data(), ia, buf1.data(), inpb, 0.f,
                buf2.data(), inpb);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(a * np), ib, ib, 1.f, buf2.data(), ib,
                B.data(), ib, 0.f, buf1.data(), ib);
    parallel_for(np, 1, [&](int64_t r_begin, int64_t r_end, int) {
      for (int64_t r = r_begin; r < r_end; ++r)
        for (int64_t col = 0; col < d; ++col) {
          const auto src = static_cast<int64_t>(out_perm[static_cast<size_t>(col)]);
          const int64_t i = src / b, j = src % b;
          out[static_cast<size_t>(r * d + col)] =
              sign[static_cast<size_t>(col)] * buf1[static_cast<size_t>((i * np + r) * b + j)];
        }
    });
    sink(r0, np, out.data());
  }
}

std::vector<float> make_vector(int64_t n, uint64_t seed) {
  NormalRng g(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(1.0 + kNormStd * g());
  return v;
}

// One tensor of the plan (its seed from the name, its spectrum from its layer)
// as float32 row panels of a multiple of `row_multiple` rows; a vector is one
// panel of one row.
void make_tensor(const ModelConfig& c, const SafetensorsEntry& e, uint64_t seed, int64_t row_multiple,
                 const PanelSink& sink) {
  const uint64_t tseed = splitmix64(seed ^ fnv1a(e.name));
  if (e.shape.size() == 2) {
    const auto r = classify_tensor(e.name);
    make_matrix(e.shape[0], e.shape[1], tseed, synth_target_pr(c, r.layer, e.shape[0], e.shape[1]), row_multiple,
                sink);
  } else {
    auto v = make_vector(e.shape.at(0), tseed);
    sink(0, 1, v.data());
  }
}

uint64_t numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (auto s : shape) n *= static_cast<uint64_t>(s);
  return n;
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> presets{
      {"tiny", "test fixture: dim 64, 4 layers, vocab 256 (< 1 MB)", make_config(64, 172, 4, 4, 2, 256, 256)},
      {"small", "dim 256, 4 layers, vocab 2048 (~8 MB in BF16)", make_config(256, 688, 4, 8, 4, 2048, 512)},
      {"tinyllama-1.1b", "TinyLlama-1.1B shapes: dim 2048, 22 layers, GQA 32/4, vocab 32000 (2.2 GB in BF16)",
       make_config(2048, 5632, 22, 32, 4, 32000, 2048)},
      {"llama-7b", "Llama-2-7B shapes: dim 4096, 32 layers, 32 heads, vocab 32000 (13.5 GB in BF16)",
       make_config(4096, 11008, 32, 32, 32, 32000, 4096)},
  };
  return presets;
}

const SynthPreset& synth_preset(std::string_view name) {
  std::string names;
  for (const auto& p : synth_presets()) {
    if (p.name == name) return p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  throw Error(fmt::format("--preset: unknown preset '{}' (choose one of: {})", name, names));
}

ModelConfig synth_config(const SynthOptions& o) {
  ModelConfig c = synth_preset(o.preset).config;
  if (o.layers < 0) throw Error("--layers: must be at least 1");
  if (o.layers > 0) c.n_layers = o.layers;
  return c;
}

std::vector<SafetensorsEntry> synth_plan(const ModelConfig& c, DType dtype) {
  std::vector<SafetensorsEntry> p;
  auto add = [&](int layer, Role role, std::vector<int64_t> shape) {
    p.push_back({hf_tensor_name(layer, role), dtype, std::move(shape)});
  };
  const int64_t kv = c.head_dim() * c.n_kv_heads;
  add(-1, Role::EmbedTokens, {c.vocab_size, c.dim});
  for (int l = 0; l < static_cast<int>(c.n_layers); ++l) {
    add(l, Role::InputLayernorm, {c.dim});
    add(l, Role::QProj, {c.dim, c.dim});
    add(l, Role::KProj, {kv, c.dim});
    add(l, Role::VProj, {kv, c.dim});
    add(l, Role::OProj, {c.dim, c.dim});
    add(l, Role::PostAttentionLayernorm, {c.dim});
    add(l, Role::GateProj, {c.hidden_dim, c.dim});
    add(l, Role::UpProj, {c.hidden_dim, c.dim});
    add(l, Role::DownProj, {c.dim, c.hidden_dim});
  }
  add(-1, Role::Norm, {c.dim});
  if (!c.tie_embeddings) add(-1, Role::LmHead, {c.vocab_size, c.dim});
  return p;
}

double synth_target_pr(const ModelConfig& c, int layer, int64_t n, int64_t d) {
  const double t = layer < 0 || c.n_layers < 2 ? 0.5 : static_cast<double>(layer) / static_cast<double>(c.n_layers - 1);
  const double pr = (70.0 + 280.0 * t) * static_cast<double>(c.dim) / 2048.0;
  return std::clamp(pr, 1.5, 0.8 * static_cast<double>(std::min(n, d)));
}

namespace {

// The plan as llama.cpp names and stores it (HF order; GGUF names; each
// tensor's type from gguf_tensor_type).
std::vector<GgufTensorEntry> gguf_plan(const std::vector<SafetensorsEntry>& plan, DType quant) {
  std::vector<GgufTensorEntry> out;
  for (const auto& e : plan) {
    const auto r = classify_tensor(e.name);
    out.push_back({gguf_tensor_name(r.layer, r.role), gguf_tensor_type(quant, e.shape), e.shape});
  }
  return out;
}

SynthResult synth_gguf(const std::filesystem::path& out, const SynthOptions& o) {
  check_gguf_quant(o.dtype);
  const ModelConfig c = synth_config(o);
  const auto plan = synth_plan(c, DType::F32);
  const auto entries = gguf_plan(plan, o.dtype);
  GgufWriter w(out, gguf_llama_metadata(c, o.dtype, "ctscope synth " + o.preset), entries);
  SynthResult res;
  const int64_t hd = c.head_dim();
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& e = plan[i];
    const auto& g = entries[i];
    const auto role = classify_tensor(e.name).role;
    // llama.cpp's converter stores q/k rows in Meta's order (RoPE pairs
    // adjacent): permute whole heads of each panel.
    const bool rope_rows = role == Role::QProj || role == Role::KProj;
    std::vector<std::byte> bytes;
    make_tensor(c, e, o.seed, rope_rows ? hd : 1, [&](int64_t, int64_t rows, float* data) {
      const auto count = static_cast<size_t>(rows * e.shape.back());
      if (rope_rows)
        permute_hf_to_meta(reinterpret_cast<uint8_t*>(data), rows / hd, hd, e.shape.back(), sizeof(float));
      bytes.resize(*dtype_bytes(g.dtype, count));
      if (traits(g.dtype).block_elems > 1) quantize_from_f32(g.dtype, data, count, bytes.data());
      else convert_from_f32(g.dtype, data, count, bytes.data());
      w.write(g.name, bytes.data(), bytes.size());
    });
    ++res.tensors;
    ++res.types[std::string(dtype_name(g.dtype))];
    res.params += numel(e.shape);
    if (o.progress) o.progress(res.tensors, plan.size(), g.name, static_cast<double>(w.bytes_written()));
  }
  w.commit();
  res.bytes = w.file_size();
  return res;
}

}  // namespace

SynthResult synth_checkpoint(const std::filesystem::path& out_arg, const SynthOptions& o) {
  namespace fs = std::filesystem;
  if (o.format == SynthFormat::Gguf) return synth_gguf(out_arg, o);
  const ModelConfig c = synth_config(o);
  if (o.dtype != DType::BF16 && o.dtype != DType::F16 && o.dtype != DType::F32)
    throw Error("--dtype: synth writes bf16, f16 or f32");
  const fs::path out = out_arg.has_filename() ? out_arg : out_arg.parent_path();  // "dir/" -> "dir"
  check_output_dir(out, o.force);  // --force only ever replaces a checkpoint directory

  AtomicDir dir(out);

  write_file_atomic(dir.tmp() / "config.json", to_hf_config(c, torch_dtype(o.dtype)).dump(2) + "\n");

  // Shards: greedy in file order; a tensor larger than the limit gets a shard of its own.
  const auto plan = synth_plan(c, o.dtype);
  std::vector<std::vector<SafetensorsEntry>> shards(1);
  uint64_t in_shard = 0, total_bytes = 0;
  for (const auto& e : plan) {
    const uint64_t nb = safetensors_entry_bytes(e, out.string());
    if (o.shard_size && !shards.back().empty() && in_shard + nb > o.shard_size) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(e);
    in_shard += nb;
    total_bytes += nb;
  }

  SynthResult res;
  res.shards = static_cast<int>(shards.size());
  const std::map<std::string, std::string> meta{
      {"format", "pt"}, {"ctscope_synth", o.preset}, {"seed", std::to_string(o.seed)}};
  std::map<std::string, std::string> weight_map;
  for (size_t si = 0; si < shards.size(); ++si) {
    const std::string fname = o.shard_size ? fmt::format("model-{:05d}-of-{:05d}.safetensors", si + 1, shards.size())
                                           : "model.safetensors";
    SafetensorsWriter w(dir.tmp() / fname, shards[si], meta);
    for (const auto& e : shards[si]) {
      ++res.tensors;
      const size_t esize = traits(e.dtype).block_bytes;
      std::vector<std::byte> bytes;
      make_tensor(c, e, o.seed, 1, [&](int64_t, int64_t rows, float* data) {
        const size_t count = static_cast<size_t>(rows * e.shape.back());
        bytes.resize(count * esize);
        convert_from_f32(e.dtype, data, count, bytes.data());
        w.write(e.name, bytes.data(), bytes.size());
      });
      res.params += numel(e.shape);
      weight_map[e.name] = fname;
      if (o.progress) o.progress(res.tensors, plan.size(), e.name, static_cast<double>(res.bytes + w.bytes_written()));
    }
    w.commit();
    res.bytes += w.file_size();
  }
  if (o.shard_size) write_hf_index(dir.tmp(), weight_map, total_bytes);

  dir.commit();
  return res;
}

}  // namespace ctscope
