#include "runtime/ops.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/thread_pool.hpp"

namespace ctscope::ops {

void rmsnorm(float* out, const float* x, const float* w, int64_t T, int64_t n, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    float* o = out + t * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const auto scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
    for (int64_t i = 0; i < n; ++i) o[i] = w[i] * (scale * xr[i]);
  }
}

void matmul(float* out, const float* x, const float* W, int64_t T, int64_t n_in, int64_t n_out) {
  const auto m = static_cast<blasint>(T), n = static_cast<blasint>(n_out), k = static_cast<blasint>(n_in);
  if (T == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, W, k, x, 1, 0.0f, out, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, W, k, 0.0f, out, n);
  }
}

std::vector<double> rope_frequencies(double theta, int64_t head_dim) {
  std::vector<double> freq(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < freq.size(); ++i)
    freq[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  return freq;
}

void rope(float* x, int64_t T, int64_t n_heads, int64_t head_dim, int64_t pos0, double theta, RopeLayout layout) {
  const int64_t half = head_dim / 2;
  const std::vector<double> freq = rope_frequencies(theta, head_dim);
  std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
  for (int64_t t = 0; t < T; ++t) {
    rope_angles(cs.data(), sn.data(), freq, static_cast<double>(pos0 + t));
    for (int64_t h = 0; h < n_heads; ++h)
      rope_rotate_head(x + (t * n_heads + h) * head_dim, cs.data(), sn.data(), half, layout);
  }
}

namespace {

// Prompt processing: per head, scores = Q K^T and out = softmax(scores) V as two
// SGEMMs (the masked upper triangle is computed and discarded; cheaper than a
// scalar loop by far).
void attention_gemm(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t T, int64_t pos0,
                    int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const int64_t n_keys = pos0 + T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> p(static_cast<size_t>(T * n_keys));
  auto bi = [](int64_t v) { return static_cast<blasint>(v); };
  for (int64_t h = 0; h < n_heads; ++h) {
    const int64_t kvh = h / group;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi(T), bi(n_keys), bi(head_dim), scale, q + h * head_dim,
                bi(dim), k_cache + kvh * head_dim, bi(kv_dim), 0.0f, p.data(), bi(n_keys));
    // Serial on purpose: an OpenMP team spinning between regions steals the cores
    // OpenBLAS's own threads need for the SGEMMs around it.
    for (int64_t t = 0; t < T; ++t) {
      float* row = p.data() + t * n_keys;
      const int64_t valid = pos0 + t + 1;  // causal: keys 0 .. pos0+t
      float mx = -INFINITY;
      for (int64_t j = 0; j < valid; ++j) mx = std::max(mx, row[j]);
      float sum = 0;
      for (int64_t j = 0; j < valid; ++j) sum += row[j] = std::exp(row[j] - mx);
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < valid; ++j) row[j] *= inv;
      std::fill(row + valid, row + n_keys, 0.0f);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bi(T), bi(head_dim), bi(n_keys), 1.0f, p.data(),
                bi(n_keys), v_cache + kvh * head_dim, bi(kv_dim), 0.0f, out + h * head_dim, bi(dim));
  }
}

// One query row of one head against cache rows 0 .. n_keys-1 (att: scratch of n_keys).
void attend(float* oh, const float* qh, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t kv_dim,
            int64_t head_dim, float* att) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float mx = -INFINITY;
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* kh = k_cache + j * kv_dim;
    float s = 0;
    for (int64_t i = 0; i < head_dim; ++i) s += qh[i] * kh[i];
    s *= scale;
    att[j] = s;
    mx = std::max(mx, s);
  }
  float sum = 0;
  for (int64_t j = 0; j < n_keys; ++j) {
    const float e = std::exp(att[j] - mx);
    att[j] = e;
    sum += e;
  }
  std::fill(oh, oh + head_dim, 0.0f);
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n_keys; ++j) {
    const float a = att[j] * inv;
    const float* vh = v_cache + j * kv_dim;
    for (int64_t i = 0; i < head_dim; ++i) oh[i] += a * vh[i];
  }
}

}  // namespace

void attention(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t T, int64_t pos0,
               int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  if (T >= 16) return attention_gemm(out, q, k_cache, v_cache, T, pos0, n_heads, n_kv_heads, head_dim);
  const int64_t dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  // Threads only pay off for enough work: tiny regions lose more to waking
  // threads than they gain (one slice then runs on the calling thread).
  const int64_t items = T * n_heads, work = items * (pos0 + T) * head_dim;
  parallel_for(items, work >= (int64_t{1} << 22) ? 1 : items, [&](int64_t i0, int64_t i1, int) {
    std::vector<float> att(static_cast<size_t>(pos0 + T));
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t t = item / n_heads, h = item % n_heads, kv_off = h / group * head_dim;
      attend(out + t * dim + h * head_dim, q + t * dim + h * head_dim, k_cache + kv_off, v_cache + kv_off,
             pos0 + t + 1, kv_dim, head_dim, att.data());
    }
  });
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace ctscope::ops
