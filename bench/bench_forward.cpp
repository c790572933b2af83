// Forward-pass throughput: prompt processing and generation tokens/s, and how
// close prompt processing gets to this machine's SGEMM rate (target >= 0.5).
//   bench_forward [CHECKPOINT] [--layers N] [--prompt T] [--gen G] [--reps R]
// On a shared machine the best of R prompt runs is compared with the best SGEMM
// rate seen before and after them, so the ratio is not flattered by contention.
// Without a checkpoint: a random model with TinyLlama-1.1B shapes (--layers to
// shrink it; the ratio is per layer, so fewer layers measure the same thing).
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "runtime/llama_model.hpp"
#include "runtime/llama_weights.hpp"
#include "io/checkpoint.hpp"
#include "util/error.hpp"
#include "yardstick.hpp"

using namespace ctscope;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

LlamaWeights random_tinyllama(int64_t layers) {
  ModelConfig c;
  c.dim = 2048;
  c.hidden_dim = 5632;
  c.n_layers = layers;
  c.n_heads = 32;
  c.n_kv_heads = 4;
  c.vocab_size = 32000;
  c.max_seq_len = 2048;
  c.rope = RopeLayout::HalfSplit;
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  WeightSource src = [&](int, Role role) -> std::vector<float> {
    const auto d = static_cast<size_t>(c.dim), h = static_cast<size_t>(c.hidden_dim),
               kv = static_cast<size_t>(c.n_kv_heads * c.head_dim()), v = static_cast<size_t>(c.vocab_size);
    size_t n = d;
    switch (role) {
      case Role::EmbedTokens: case Role::LmHead: n = v * d; break;
      case Role::QProj: case Role::OProj: n = d * d; break;
      case Role::KProj: case Role::VProj: n = kv * d; break;
      case Role::GateProj: case Role::UpProj: case Role::DownProj: n = h * d; break;
      default: return std::vector<float>(d, 1.0f);  // norms
    }
    std::vector<float> w(n);
    for (auto& x : w) x = nd(rng);
    return w;
  };
  return load_llama_weights(c, src, "random tinyllama");
}

// The prompt's biggest matmul shape (x W^T, as ops::matmul does it).
double sgemm_gflops(int64_t m, int64_t n, int64_t k) { return bench::sgemm_gflops(m, n, k, 4, true); }

}  // namespace

int main(int argc, char** argv) {
  ctscope::bench::start_benchmark(argv);
  std::string path;
  int64_t layers = 22, T = 512, G = 32, reps = 2;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() { return i + 1 < argc ? std::stoll(argv[++i]) : 0LL; };
    if (!std::strcmp(argv[i], "--layers")) layers = next();
    else if (!std::strcmp(argv[i], "--prompt")) T = next();
    else if (!std::strcmp(argv[i], "--gen")) G = next();
    else if (!std::strcmp(argv[i], "--reps")) reps = std::max(1LL, next());
    else path = argv[i];
  }
  try {
    const auto t_load = Clock::now();
    auto w = std::make_shared<const LlamaWeights>(path.empty() ? random_tinyllama(layers)
                                                               : load_llama_weights(Checkpoint::open(path)));
    const auto& c = w->config;
    std::printf("model: %s (dim %ld, hidden %ld, layers %ld, heads %ld/%ld, vocab %ld), %.2fB matmul params, "
                "loaded in %.1f s\n",
                path.empty() ? "random TinyLlama-1.1B shapes" : path.c_str(), static_cast<long>(c.dim),
                static_cast<long>(c.hidden_dim), static_cast<long>(c.n_layers), static_cast<long>(c.n_heads),
                static_cast<long>(c.n_kv_heads), static_cast<long>(c.vocab_size),
                static_cast<double>(w->matmul_params()) / 1e9, seconds_since(t_load));
    T = std::min(T, c.max_seq_len - G);
    const double peak_before = sgemm_gflops(T, c.hidden_dim, c.dim);
    LlamaModel model(w);
    std::vector<int32_t> prompt(static_cast<size_t>(T));
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 1) % static_cast<size_t>(c.vocab_size));
    model.forward(std::span(prompt.data(), std::min<size_t>(16, prompt.size())));  // warm up
    double pp = 1e30;
    std::span<const float> logits;
    for (int64_t r = 0; r < reps; ++r) {
      model.reset();
      const auto t_pp = Clock::now();
      logits = model.forward(prompt);
      pp = std::min(pp, seconds_since(t_pp));
    }
    const double peak = std::max(peak_before, sgemm_gflops(T, c.hidden_dim, c.dim));
    std::printf("SGEMM %ld x %ld x %ld: %.1f GFLOP/s (best of before/after: %.1f)\n", static_cast<long>(T),
                static_cast<long>(c.hidden_dim), static_cast<long>(c.dim), peak, peak_before);
    const double pp_gflops = 2.0 * static_cast<double>(w->matmul_params()) * static_cast<double>(T) / pp / 1e9;
    int32_t tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const auto t0 = Clock::now();
    for (int64_t g = 0; g < G; ++g) {
      logits = model.forward(std::span(&tok, 1));
      tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const double gen = seconds_since(t0);
    std::printf("prompt processing (best of %ld): %ld tokens in %.2f s = %.1f tok/s, %.1f GFLOP/s (matmuls)\n",
                static_cast<long>(reps), static_cast<long>(T), pp, static_cast<double>(T) / pp, pp_gflops);
    std::printf("generation: %ld tokens in %.2f s = %.2f tok/s (after %ld positions)\n", static_cast<long>(G), gen,
                static_cast<double>(G) / gen, static_cast<long>(T));
    std::printf("prompt-processing GFLOP/s / SGEMM GFLOP/s = %.2f (target >= 0.5)\n", pp_gflops / peak);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_forward: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
