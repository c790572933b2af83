#include "ct/gram.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "ct/blas_threads.hpp"
#include "ct/gram_amx.hpp"
#include "ct/parallel.hpp"
#include "util/error.hpp"

namespace ctscope::ct {

namespace {

constexpr size_t kPanelBytes = size_t{4} << 20;  // float panel: fits in L2+L3 share, big enough for SYRK
constexpr int64_t kFlushDepth = 4096;           // rows (or columns) summed in float before going to double
constexpr size_t kAmxPanelBytes = size_t{4} << 20;  // BF16 panel per AMX call: deep enough (1024 rows at d = 2048) that G's float blocks, streamed from L3, are loaded and stored once per 32 k-steps

size_t elem_offset_bytes(DType t, int64_t elems) {
  const auto& tr = traits(t);
  return static_cast<size_t>(elems / tr.block_elems) * tr.block_bytes;
}

void check_view(const MatrixView& W) {
  const auto& tr = traits(W.dtype);
  if (!tr.to_f32) throw Error(fmt::format("matrix of dtype {} cannot be analyzed", tr.name));
  if (W.n < 1 || W.d < 1 || !W.data) throw Error(fmt::format("empty matrix {} x {}", W.n, W.d));
  if (W.d % tr.block_elems != 0)
    throw Error(fmt::format("{} matrix rows of {} elements are not whole blocks", tr.name, W.d));
}

// Column sums, sum and sum of squares of a rows x cols float panel (leading
// dimension ld), in double. (The AMX path takes them while packing.)
void panel_stats(const float* P, int64_t rows, int64_t cols, int64_t ld, double* colsum, double& ss, double& sum) {
  constexpr int64_t kCols = 256;
  std::vector<double> s1(worker_count(), 0.0), s2(worker_count(), 0.0);
  parallel_for(cols, kCols, [&](int64_t c0, int64_t c1, int w) {
    for (int64_t j0 = c0; j0 < c1; j0 += kCols) {
      const int64_t j1 = std::min(c1, j0 + kCols);
      double acc[kCols] = {}, sq[kCols] = {};
      for (int64_t i = 0; i < rows; ++i) {
        const float* p = P + i * ld;
        for (int64_t j = j0; j < j1; ++j) {
          const double v = p[j];
          acc[j - j0] += v;
          sq[j - j0] += v * v;
        }
      }
      for (int64_t j = j0; j < j1; ++j) {
        colsum[j] += acc[j - j0];
        s1[w] += acc[j - j0];
        s2[w] += sq[j - j0];
      }
    }
  });
  for (int w = 0; w < worker_count(); ++w) {
    ss += s2[w];
    sum += s1[w];
  }
}

// convert_to_f32 in slices small enough that it stays on the calling thread.
void convert_parallel(DType t, const uint8_t* src, int64_t n, float* dst) {
  constexpr int64_t kSlice = 1 << 16;  // whole blocks of every block type
  parallel_for(n, kSlice, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i += kSlice)
      convert_to_f32(t, src + elem_offset_bytes(t, i), static_cast<size_t>(std::min(kSlice, i1 - i)), dst + i);
  });
}

// G (double, upper triangle) += Gf (float, upper triangle, row stride ldf), or
// = on the first flush (so G needs no clearing); Gf's upper triangle is left
// zero, and so are the lower halves of its diagonal blocks of side `blk` (the
// AMX kernel writes whole 32 x 32 blocks).
void flush(std::vector<float>& Gf, int64_t ldf, std::vector<double>& G, int64_t m, bool first, int64_t blk) {
  // Rows i and m-1-i together: every slice gets the same share of the triangle.
  auto row = [&](int64_t i) {
    float* f = Gf.data() + i * ldf;
    for (int64_t j = i / blk * blk; j < i; ++j) f[j] = 0.f;
    for (int64_t j = i; j < m; ++j) {
      G[i * m + j] = first ? f[j] : G[i * m + j] + f[j];
      f[j] = 0.f;
    }
  };
  parallel_for((m + 1) / 2, 8, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      row(p);
      if (m - 1 - p != p) row(m - 1 - p);
    }
  });
}

}  // namespace

// Blocked so that the transposed reads stay in cache.
template <typename T>
void symmetric_from_upper(const std::vector<double>& U, int64_t m, std::vector<T>& out) {
  out.resize(static_cast<size_t>(m * m));
  constexpr int64_t kB = 64;
  parallel_for(m, kB, [&](int64_t r0, int64_t r1, int) {
    for (int64_t i0 = r0; i0 < r1; i0 += kB)
      for (int64_t j0 = 0; j0 < m; j0 += kB)
        for (int64_t i = i0; i < std::min(r1, i0 + kB); ++i)
          for (int64_t j = j0; j < std::min(m, j0 + kB); ++j)
            out[i * m + j] = static_cast<T>(j >= i ? U[i * m + j] : U[j * m + i]);
  });
}
template void symmetric_from_upper<float>(const std::vector<double>&, int64_t, std::vector<float>&);
template void symmetric_from_upper<double>(const std::vector<double>&, int64_t, std::vector<double>&);

void for_each_row_panel(const MatrixView& W, int64_t max_rows, const std::function<void(int64_t, int64_t, const float*)>& fn) {
  check_view(W);
  const int64_t rb = std::max<int64_t>(1, std::min(max_rows, W.n));
  // Aligned float data is used in place (panels are views); anything else is converted.
  const bool f32 = W.dtype == DType::F32 && reinterpret_cast<uintptr_t>(W.data) % alignof(float) == 0;
  std::vector<float> P(f32 ? 0 : static_cast<size_t>(rb * W.d));
  const auto* base = static_cast<const uint8_t*>(W.data);
  for (int64_t r0 = 0; r0 < W.n; r0 += rb) {
    const int64_t rows = std::min(rb, W.n - r0);
    const uint8_t* src = base + elem_offset_bytes(W.dtype, r0 * W.d);
    if (f32) {
      fn(r0, rows, reinterpret_cast<const float*>(src));
      continue;
    }
    convert_parallel(W.dtype, src, rows * W.d, P.data());
    fn(r0, rows, P.data());
  }
}

GramPass gram_pass(const MatrixView& W, bool row_gram) {
  GramPass g;
  gram_pass(W, row_gram, nullptr, 0, g);
  return g;
}

void gram_pass(const MatrixView& W, bool row_gram, const float* Qall, int kq, GramPass& g) {
  check_view(W);
  g.row_gram = row_gram;
  g.ss = g.sum = g.flops = 0;
  g.finite = true;
  g.Y.clear();
  g.YtY.assign(static_cast<size_t>(kq) * kq, 0.0);
  const int64_t n = W.n, d = W.d;
  g.m = row_gram ? d : n;
  const int64_t m = g.m;
  // BF16 goes to AMX as stored (exact products, FP32 sums like SSYRK); other
  // dtypes are converted to float for SSYRK, never rounded to BF16.
  const bool amx = W.dtype == DType::BF16 && amx::available();
  // SSYRK and SGEMM are the bulk of the work there: worth OpenBLAS's threads
  // (analyze_matrix holds BLAS to one thread otherwise).
  ScopedBlasThreads blas_threads(amx ? 1 : ScopedBlasThreads::kDefault);
  const int64_t ldf = amx ? amx::padded(m) : m, blk = amx ? 32 : 1;
  // G is written by the first flush; Gf's upper triangle is zero after every
  // completed pass, so a same-sized reuse needs no clearing either.
  g.G.resize(static_cast<size_t>(m * m));
  g.colsum.assign(static_cast<size_t>(d), 0.0);
  if (!g.gf_clean || g.Gf.size() != static_cast<size_t>(ldf * ldf)) g.Gf.assign(static_cast<size_t>(ldf * ldf), 0.f);
  g.gf_clean = false;
  auto& Gf = g.Gf;
  bool first_flush = true;
  const auto* base = static_cast<const uint8_t*>(W.data);
  const auto* bf16 = static_cast<const uint16_t*>(W.data);
  static thread_local amx::Scratch scratch;
  static thread_local amx::ProjectionTiles ptiles;
  if (amx && kq > 0) amx::pack_projection(Qall, d, kq, ptiles);
  const int64_t ldy = kq == 0 ? 0 : amx ? ptiles.ycols() : kq;  // Y panels: AMX writes whole 16-column tiles

  if (row_gram) {
    // Row panels: G += P^T P.
    int64_t rb = std::clamp<int64_t>(static_cast<int64_t>(kPanelBytes / 4) / d, 16, 1024);
    if (amx) rb = std::clamp<int64_t>(static_cast<int64_t>(kAmxPanelBytes / 2) / d / 32 * 32, 32, kFlushDepth);
    // The float panel only where SSYRK needs it (AMX also does Y = P Q).
    std::vector<float> P(!amx ? static_cast<size_t>(std::min(rb, n) * d) : 0),
        Yf(static_cast<size_t>(std::min(rb, n) * ldy));
    std::vector<double> Yd(static_cast<size_t>(std::min(rb, n)) * kq);
    int64_t pending = 0;
    for (int64_t r0 = 0; r0 < n; r0 += rb) {
      const int64_t rows = std::min(rb, n - r0);
      if (amx) {
        amx::PanelStats st{g.colsum.data()};
        amx::gram_tn(bf16 + r0 * d, rows, d, d, Gf.data(), ldf, scratch, st);
        g.ss += st.ss;
        g.sum += st.sum;
      } else {
        convert_parallel(W.dtype, base + elem_offset_bytes(W.dtype, r0 * d), rows * d, P.data());
        panel_stats(P.data(), rows, d, d, g.colsum.data(), g.ss, g.sum);
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(d), static_cast<int>(rows), 1.f, P.data(),
                    static_cast<int>(d), 1.f, Gf.data(), static_cast<int>(d));
      }
      if (!std::isfinite(g.ss)) { g.finite = false; return; }
      g.flops += static_cast<double>(d) * static_cast<double>(d + 1) * static_cast<double>(rows);
      if (kq > 0) {  // Y = P Q in float (a sum over d), Y^T Y in double
        if (amx)
          amx::project(bf16 + r0 * d, rows, d, d, ptiles, 0, Yf.data(), ldy);
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), kq, static_cast<int>(d), 1.f,
                      P.data(), static_cast<int>(d), Qall, kq, 0.f, Yf.data(), static_cast<int>(ldy));
        for (int64_t i = 0; i < rows; ++i) std::copy_n(Yf.data() + i * ldy, kq, Yd.data() + i * kq);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, kq, static_cast<int>(rows), 1.0, Yd.data(), kq, 1.0,
                    g.YtY.data(), kq);
        g.flops += 2.0 * static_cast<double>(rows) * static_cast<double>(d) * kq + static_cast<double>(rows) * kq * kq;
      }
      pending += rows;
      if (pending + rows > kFlushDepth || r0 + rows == n) {
        flush(Gf, ldf, g.G, m, first_flush, blk);
        first_flush = false;
        pending = 0;
      }
    }
  } else {
    // Column panels (all rows, cb columns): G += P P^T, Y += P Qall[cols].
    const auto& tr = traits(W.dtype);
    int64_t cb = std::clamp<int64_t>(static_cast<int64_t>(kPanelBytes / 4) / n, 64, 4096);
    if (amx) cb = std::clamp<int64_t>(static_cast<int64_t>(kAmxPanelBytes / 2) / n / 32 * 32, 32, kFlushDepth);
    cb = std::max<int64_t>(tr.block_elems, cb / tr.block_elems * tr.block_elems);
    cb = std::min(cb, d);
    std::vector<float> P(!amx ? static_cast<size_t>(n * cb) : 0), Yf;
    if (kq > 0) {
      g.Y.assign(static_cast<size_t>(n * kq), 0.0);
      Yf.resize(static_cast<size_t>(n * ldy));
    }
    int64_t pending = 0;
    for (int64_t j0 = 0; j0 < d; j0 += cb) {
      const int64_t cols = std::min(cb, d - j0);
      if (amx) {
        amx::PanelStats st{g.colsum.data() + j0};
        amx::gram_nt(bf16 + j0, n, cols, d, Gf.data(), ldf, scratch, st);
        g.ss += st.ss;
        g.sum += st.sum;
      } else {
        parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i)
            convert_to_f32(W.dtype, base + elem_offset_bytes(W.dtype, i * d + j0), static_cast<size_t>(cols),
                           P.data() + i * cols);
        });
        panel_stats(P.data(), n, cols, cols, g.colsum.data() + j0, g.ss, g.sum);
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(cols), 1.f, P.data(),
                    static_cast<int>(cols), 1.f, Gf.data(), static_cast<int>(n));
      }
      if (!std::isfinite(g.ss)) { g.finite = false; return; }
      g.flops += static_cast<double>(n) * static_cast<double>(n + 1) * static_cast<double>(cols);
      if (kq > 0) {
        if (amx)
          amx::project(bf16 + j0, n, cols, d, ptiles, j0, Yf.data(), ldy);
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), kq, static_cast<int>(cols), 1.f,
                      P.data(), static_cast<int>(cols), Qall + j0 * kq, kq, 0.f, Yf.data(), static_cast<int>(ldy));
        parallel_for(n, 64, [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i)
            for (int c = 0; c < kq; ++c) g.Y[static_cast<size_t>(i * kq + c)] += Yf[static_cast<size_t>(i * ldy + c)];
        });
        g.flops += 2.0 * static_cast<double>(n) * kq * static_cast<double>(cols);
      }
      pending += cols;
      if (pending + cols > kFlushDepth || j0 + cols == d) {
        flush(Gf, ldf, g.G, m, first_flush, blk);
        first_flush = false;
        pending = 0;
      }
    }
    if (kq > 0) {
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, kq, static_cast<int>(n), 1.0, g.Y.data(), kq, 0.0, g.YtY.data(), kq);
      g.flops += static_cast<double>(n) * kq * kq;
    }
  }
  g.gf_clean = true;
}

}  // namespace ctscope::ct
