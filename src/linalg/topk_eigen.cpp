#include "linalg/topk_eigen.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "linalg/blas_threads.hpp"
#include "linalg/sym_eigen.hpp"
#include "linalg/sym_product.hpp"
#include "util/error.hpp"
#include "util/thread_pool.hpp"
#include "util/zero_pages.hpp"

namespace ctscope::linalg {

namespace {

std::vector<double> prefix_sums(const std::vector<double>& desc, const std::vector<int>& Ks) {
  std::vector<double> out;
  for (int K : Ks) {
    double s = 0;
    for (int64_t i = 0; i < std::min<int64_t>(K, static_cast<int64_t>(desc.size())); ++i) s += desc[i];
    out.push_back(s);
  }
  return out;
}

// Row slices of the m-long vectors, one per worker (cache-line aligned starts).
template <typename Fn>
void row_slices(int64_t m, Fn&& fn) {
  parallel_for(m, 64, [&](int64_t i0, int64_t i1, int w) { fn(static_cast<int>(i0), static_cast<int>(i1 - i0), w); });
}

// Column-major GEMM in the precision of its arguments.
void gemm_cm(CBLAS_TRANSPOSE ta, int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
             double beta, double* C, int ldc) {
  cblas_dgemm(CblasColMajor, ta, CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm_cm(CBLAS_TRANSPOSE ta, int M, int N, int K, double alpha, const float* A, int lda, const float* B, int ldb,
             double beta, float* C, int ldc) {
  cblas_sgemm(CblasColMajor, ta, CblasNoTrans, M, N, K, static_cast<float>(alpha), A, lda, B, ldb,
              static_cast<float>(beta), C, ldc);
}

// P (r x b, col-major, ld r) = A^T X, A: m x r, X: m x b (col-major, ld m).
template <class T>
void gemm_tn(const T* A, int64_t m, int r, const T* X, int b, T* P) {
  const int workers = worker_count();
  static thread_local std::vector<T> tl_part;
  std::vector<T>& part = tl_part;  // workers must see this thread's buffer
  part.assign(static_cast<size_t>(workers) * r * b, T(0));
  row_slices(m, [&](int i0, int len, int w) {
    gemm_cm(CblasTrans, r, b, len, 1.0, A + i0, static_cast<int>(m), X + i0, static_cast<int>(m), 0.0,
            part.data() + static_cast<size_t>(w) * r * b, r);
  });
  for (size_t k = 0; k < static_cast<size_t>(r) * b; ++k) {
    T v = 0;
    for (int w = 0; w < workers; ++w) v += part[static_cast<size_t>(w) * r * b + k];
    P[k] = v;
  }
}

// X -= A P, A: m x r, P: r x b (ld ldp), X: m x b (col-major, ld m).
void gemm_sub(const double* A, int64_t m, int r, const double* P, int ldp, double* X, int b) {
  row_slices(m, [&](int i0, int len, int) {
    gemm_cm(CblasNoTrans, len, b, r, -1.0, A + i0, static_cast<int>(m), P, ldp, 1.0, X + i0, static_cast<int>(m));
  });
}

// X -= A (A^T X) with A in float (m x r, col-major): the global pass of the
// reorthogonalization. Xf: float scratch of m x b, P: of r x b.
void subtract_float_projection(const float* A, int64_t m, int r, double* X, int b, std::vector<float>& Xf,
                               std::vector<float>& P) {
  const int mi = static_cast<int>(m);
  Xf.resize(static_cast<size_t>(m) * b);
  P.resize(static_cast<size_t>(r) * b);
  std::transform(X, X + Xf.size(), Xf.begin(), [](double v) { return static_cast<float>(v); });
  gemm_tn(A, m, r, Xf.data(), b, P.data());
  row_slices(m, [&](int i0, int len, int) {
    gemm_cm(CblasNoTrans, len, b, r, 1.0, A + i0, mi, P.data(), r, 0.0, Xf.data() + i0, mi);
    for (int k = 0; k < b; ++k)
      for (int i = i0; i < i0 + len; ++i) X[static_cast<size_t>(k) * m + i] -= Xf[static_cast<size_t>(k) * m + i];
  });
}

// Columns [c0, c1) of col-major V (m x cols), orthonormalized against
// V[:, 0:c0] and among themselves: a local pass (the caller's projection on
// the last blocks, where the Lanczos recurrence puts all of X's component in
// exact arithmetic), then classical Gram-Schmidt against all of V[:, 0:c0],
// each pass followed by Cholesky QR (all level-3 BLAS). A column that the
// global pass shrinks below 0.7 of its length gets one more pass (the DGKS
// criterion: "twice is enough"). If the local pass finds a column with
// (nearly) no new direction - the Krylov space is exhausted - the block is
// replaced by random columns.
// known (optional): V[:, known_lo:c0]^T X, (c0 - known_lo) x b col-major with
// leading dimension ld_known. Without it the first pass is a global one.
// The global pass reads Vf, V rounded to float (columns 0:c0), at half the
// bytes (that read is the pass's cost). After the local pass what it removes
// is rounding-sized, so the float coefficients' own error is far below what
// the float products of M already carry; where the first pass is a global
// one, the second global pass that always follows removes what it left.
void orthonormalize_block(std::vector<double>& V, const std::vector<float>& Vf, int64_t m, int c0, int c1,
                          std::mt19937_64& rng, double& flops, const double* known = nullptr, int known_lo = 0,
                          int ld_known = 0) {
  const int b = c1 - c0, mi = static_cast<int>(m);
  double* X = V.data() + static_cast<size_t>(c0) * m;
  std::vector<double> R(static_cast<size_t>(b) * b), norm0(b);
  static thread_local std::vector<float> tl_xf, tl_proj;
  auto global = [&] {
    if (c0 == 0) return;
    subtract_float_projection(Vf.data(), m, c0, X, b, tl_xf, tl_proj);
    flops += 4.0 * static_cast<double>(m) * c0 * b;
  };
  auto first = [&] {
    if (!known) return global();
    const int r = c0 - known_lo;
    gemm_sub(V.data() + static_cast<size_t>(known_lo) * m, m, r, known, ld_known, X, b);
    flops += 2.0 * static_cast<double>(m) * r * b;
  };
  // X = Q R with R from the Cholesky factor of X^T X; false if a column is
  // (relative to its norm before projection) too small to trust.
  auto cholqr = [&](bool check) {
    gemm_tn(X, m, b, X, b, R.data());  // X^T X, its rows split between the workers
    flops += 2.0 * static_cast<double>(m) * b * b;
    if (check)
      for (int k = 0; k < b; ++k)
        if (!(R[static_cast<size_t>(k) * b + k] > 1e-12 * norm0[k] * norm0[k])) return false;
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', b, R.data(), b) != 0) return false;
    if (check)
      for (int k = 0; k < b; ++k)
        if (!(R[static_cast<size_t>(k) * b + k] > 1e-6 * norm0[k])) return false;
    row_slices(m, [&](int i0, int len, int) {
      cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, len, b, 1.0, R.data(), b, X + i0,
                  mi);
    });
    return true;
  };
  for (int attempt = 0;; ++attempt) {
    for (int k = 0; k < b; ++k) norm0[k] = std::max(cblas_dnrm2(mi, X + static_cast<size_t>(k) * m, 1), 1e-300);
    first();
    if (cholqr(true)) break;
    if (attempt >= 3) throw Error("block Lanczos: cannot extend the Krylov basis");
    known = nullptr;  // only valid for the X it was computed from
    // Breakdown: a fresh random block (any direction outside span(V) will do).
    std::normal_distribution<double> nd;
    for (size_t i = 0; i < static_cast<size_t>(b) * m; ++i) X[i] = nd(rng);
  }
  if (c0 == 0) return;
  // The columns are unit length here, so R's diagonal after the global pass
  // is what each kept of its length.
  for (int pass = 0; pass < 2; ++pass) {
    global();
    if (!cholqr(false)) throw Error("block Lanczos: lost orthogonality");
    bool kept = true;
    for (int k = 0; k < b; ++k) kept = kept && R[static_cast<size_t>(k) * b + k] >= 0.7;
    if (kept) return;
  }
}

// Eigenvalues (descending) of the s x s Rayleigh quotient S (col-major, ld)
// of block Lanczos: block tridiagonal, i.e. banded with half-width b (the
// coupling blocks are the triangular R factors). Entries outside the band are
// rounding noise of the float products (the reorthogonalization removes what
// they stand for), so the band solver, O(s^2 b), sees only the band.
std::vector<double> band_ritz_values(const std::vector<double>& S, int ld, int s, int b) {
  std::vector<double> w(static_cast<size_t>(s));
  const int ldab = b + 1;
  std::vector<double> ab(static_cast<size_t>(ldab) * s, 0.0);
  for (int j = 0; j < s; ++j)
    for (int i = std::max(0, j - b); i <= j; ++i) ab[static_cast<size_t>(j) * ldab + (b + i - j)] = S[static_cast<size_t>(j) * ld + i];
  if (LAPACKE_dsbevd(LAPACK_COL_MAJOR, 'N', 'U', s, b, ab.data(), ldab, w.data(), nullptr, 1) != 0)
    throw Error("band eigensolver failed to converge");
  std::reverse(w.begin(), w.end());
  return w;
}

// v at least n long; new zeros are handed back to the system until written.
template <typename T>
void grow_untouched(std::vector<T>& v, size_t n) {
  if (v.size() >= n) return;
  v.resize(n);
  discard_zero_pages(v.data(), v.size() * sizeof(T));
}

// The block Lanczos state: Krylov basis V (m x s, col-major), the projected
// matrix T = V^T M V (col-major, leading dimension ldt), the float tiles of M,
// and V's components along the centering vectors u and w.
struct Lanczos {
  int64_t m = 0;
  int b = 0, ldt = 0;
  const PackedSym* M = nullptr;
  std::vector<double>& V;
  std::vector<float>& Vf;  // V rounded to float, for the global reorthogonalization
  std::vector<double>& T;
  std::vector<float> Xf, Zf;
  std::vector<double> Z, VtZ;  // Z = M X_j (m x b); VtZ = V[:, lo:s]^T Z
  std::vector<double> a, cw;   // V^T u, V^T w
  std::mt19937_64 rng{0x1a2c05};
  double flops = 0;

  Lanczos(const PackedSym& packed, int64_t m_, int b_, int smax, std::vector<double>& V_, std::vector<float>& Vf_,
          std::vector<double>& T_)
      : m(m_), b(b_), ldt(smax + b_), M(&packed), V(V_), Vf(Vf_), T(T_) {
    // Padding rows of Xf stay zero.
    Xf.assign(static_cast<size_t>(packed.padded()) * b, 0.0f);
    Zf.resize(Xf.size());
    Z.resize(static_cast<size_t>(m) * b);
    // Only the columns in use are ever written or read, so the rest of a
    // buffer sized for smax (K = 64 settles at ~230 of 1024) stays out of memory.
    grow_untouched(V, static_cast<size_t>(m) * (smax + b));
    grow_untouched(Vf, V.size());
    grow_untouched(T, static_cast<size_t>(ldt) * ldt);
  }

  // The first block: u (normalized) and random directions, orthonormalized,
  // so one Krylov space serves M and the centered Mc.
  void start(const Centering& c) {
    std::uniform_real_distribution<double> ud(-1.0, 1.0);
    for (int k = 0; k < b; ++k)
      for (int64_t i = 0; i < m; ++i) V[static_cast<size_t>(k) * m + i] = ud(rng);
    const double unorm = cblas_dnrm2(static_cast<int>(m), c.u.data(), 1);
    if (unorm > 0)
      for (int64_t i = 0; i < m; ++i) V[i] = c.u[i] / unorm;
    orthonormalize(0);
  }

  // Columns c0 .. c0+b-1 of V orthonormalized (known: as orthonormalize_block), and their float copy.
  void orthonormalize(int c0, const double* known = nullptr, int known_lo = 0, int ld_known = 0) {
    orthonormalize_block(V, Vf, m, c0, c0 + b, rng, flops, known, known_lo, ld_known);
    const size_t at = static_cast<size_t>(c0) * m, n = static_cast<size_t>(b) * m;
    std::transform(V.begin() + at, V.begin() + at + n, Vf.begin() + at, [](double v) { return static_cast<float>(v); });
  }

  // Z = M X_j for the block at s0, and T's columns s0 .. s0+b-1.
  void project_block(int s0) {
    const int s = s0 + b;
    const double mm = static_cast<double>(m);
    const double* X = V.data() + static_cast<size_t>(s0) * m;
    // The Lanczos recurrence couples block j only to blocks j-1 and j+1:
    // V[:, lo:s]^T Z is all of V^T Z in exact arithmetic (the rest is rounding,
    // which the global pass of orthonormalize_block removes).
    const int lo = std::max(0, s0 - b);
    VtZ.resize(static_cast<size_t>(s - lo) * b);
    // V is column-major, the kernel wants row-major blocks: transpose on the way.
    for (int k = 0; k < b; ++k)
      for (int64_t i = 0; i < m; ++i) Xf[i * b + k] = static_cast<float>(X[static_cast<size_t>(k) * m + i]);
    sym_product(*M, Xf.data(), b, Zf.data());
    for (int k = 0; k < b; ++k)
      for (int64_t i = 0; i < m; ++i) Z[static_cast<size_t>(k) * m + i] = Zf[i * b + k];
    gemm_tn(V.data() + static_cast<size_t>(lo) * m, m, s - lo, Z.data(), b, VtZ.data());
    // T[lo:s, s0:s] = V[:, lo:s]^T Z, T[0:lo, s0:s] = 0, then symmetrized.
    for (int k = 0; k < b; ++k) {
      double* col = T.data() + static_cast<size_t>(s0 + k) * ldt;
      std::fill_n(col, lo, 0.0);
      std::copy_n(VtZ.data() + static_cast<size_t>(k) * (s - lo), s - lo, col + lo);
    }
    flops += 2.0 * mm * mm * b + 2.0 * mm * (s - lo) * b;
    for (int j = s0; j < s; ++j)
      for (int i = 0; i < j; ++i) {
        const double avg = i >= s0 ? 0.5 * (T[static_cast<size_t>(j) * ldt + i] + T[static_cast<size_t>(i) * ldt + j])
                                   : T[static_cast<size_t>(j) * ldt + i];
        T[static_cast<size_t>(j) * ldt + i] = T[static_cast<size_t>(i) * ldt + j] = avg;
      }
  }

  // a = V^T u and cw = V^T w for the block at s0.
  void track_centering(int s0, const Centering& c) {
    const int s = s0 + b, mi = static_cast<int>(m);
    a.resize(s);
    cw.resize(s);
    for (int k = s0; k < s; ++k) {
      a[k] = cblas_ddot(mi, V.data() + static_cast<size_t>(k) * m, 1, c.u.data(), 1);
      cw[k] = c.w.empty() ? 0.0 : cblas_ddot(mi, V.data() + static_cast<size_t>(k) * m, 1, c.w.data(), 1);
    }
  }

  // Ritz values (descending) of Mc = M + gamma u u^T - u w^T - w u^T on span(V[:, 0:s]).
  std::vector<double> centered_ritz(int s, const Centering& c) {
    std::vector<double> Tc(static_cast<size_t>(s) * s);
    for (int j = 0; j < s; ++j)
      for (int i = 0; i < s; ++i)
        Tc[static_cast<size_t>(j) * s + i] =
            T[static_cast<size_t>(j) * ldt + i] + c.gamma * a[i] * a[j] - a[i] * cw[j] - cw[i] * a[j];
    flops += 6.0 * s * static_cast<double>(s) * b;
    return sym_eigvals_desc(std::move(Tc), s);  // dense: the centering breaks the band
  }

  // The next block from Z, orthonormalized (V[:, lo:s]^T Z is the local pass's projection).
  void extend(int s0) {
    const int s = s0 + b, lo = std::max(0, s0 - b);
    std::copy(Z.begin(), Z.end(), V.begin() + static_cast<std::ptrdiff_t>(s) * m);
    orthonormalize(s, VtZ.data(), lo, s - lo);
  }
};

// Ritz sums grow monotonically and, past the first steps, geometrically: with
// rate q = step / previous step, what is left is about step q / (1 - q).
class ConvergenceTest {
 public:
  explicit ConvergenceTest(double tol_abs) : tol_(tol_abs) {}
  // Records this check's sums; true when every sum's estimated remainder is below tol.
  bool settled(const std::vector<double>& sums) {
    bool done = !prev_.empty();
    for (size_t i = 0; done && i < sums.size(); ++i) {
      const double step = sums[i] - prev_[i];
      if (step <= 0.01 * tol_) continue;
      const double q = delta_.empty() || delta_[i] <= 0 ? 1.0 : step / delta_[i];
      done = q < 0.7 && step * q / (1 - q) <= tol_;
    }
    if (!prev_.empty()) {
      delta_.resize(sums.size());
      for (size_t i = 0; i < sums.size(); ++i) delta_[i] = sums[i] - prev_[i];
    }
    prev_ = sums;
    return done;
  }

 private:
  double tol_;
  std::vector<double> prev_, delta_;
};

}  // namespace

TopEigen top_eigen(const std::vector<double>& M, const std::function<std::vector<double>()>& make_Mc, int64_t m,
                   const std::vector<int>& Ks, const Centering& c, const TopEigenOptions& opt, std::vector<float>& work) {
  TopEigen r;
  int kmax = 1;
  for (int K : Ks) kmax = std::max(kmax, K);
  for (int K : opt.Ks_centered) kmax = std::max(kmax, K);
  const bool want_c = !opt.Ks_centered.empty();
  const double mm = static_cast<double>(m);

  // LAPACK on the whole matrix (~0.5 s at m = 2048: the last resort).
  bool lmax_done = false;
  double lmax = 0;
  auto exact = [&] {
    r.exact = true;
    const bool need_c = want_c || !lmax_done;
    std::vector<double> l, lc;
    // Small solves are single-threaded LAPACK: M's and Mc's run side by side
    // (big ones use all of OpenBLAS's threads, one after the other).
    auto solve = [&](int which) {
      (which == 0 ? l : lc) = sym_eigvals_desc(which == 0 ? std::vector<double>(M.begin(), M.begin() + m * m) : make_Mc(), m);
    };
    if (need_c && m < 1024) {
      const ScopedBlasThreads serial(1);  // set here, so the two solves leave OpenBLAS's setting alone
      parallel_for(2, 1, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) solve(static_cast<int>(i));
      });
    } else {
      solve(0);
      if (need_c) solve(1);
    }
    r.top_sums = prefix_sums(l, Ks);
    if (need_c) {
      r.top_sums_c = prefix_sums(lc, opt.Ks_centered);
      r.lmax_c = lc.front();
    } else {
      r.lmax_c = lmax;
    }
    r.flops += (need_c ? 2 : 1) * (4.0 / 3.0) * mm * mm * mm;
    r.subspace = static_cast<int>(m);
    return r;
  };
  // Small blocks reach a given accuracy with the smallest Krylov dimension
  // (measured: K = 64 settles at ~208 with 16, ~288 with 32, ~384 with 64), and
  // the reorthogonalization grows with its square.
  const int b = opt.block > 0 ? opt.block : 16;
  // Past m/2 the Krylov basis costs about what LAPACK does.
  const int smax = static_cast<int>(std::min<int64_t>(m / 2, 1024));
  if (m <= opt.exact_below || smax < kmax + 2 * b) return exact();

  // Products in float: M is read once per block step and that read is the cost;
  // Ritz values then carry ~1e-7 relative error, far inside the tolerances.
  // The packed tiles live in the caller's work buffer (reused across matrices).
  struct Borrow {
    PackedSym P;
    std::vector<float>& w;
    explicit Borrow(std::vector<float>& buf) : w(buf) { P.data.swap(w); }
    ~Borrow() { P.data.swap(w); }
    Borrow(const Borrow&) = delete;
    Borrow& operator=(const Borrow&) = delete;
  } packed(work);
  pack_upper(M, m, packed.P);
  // The Krylov basis and projected matrix live across calls on this thread.
  static thread_local std::vector<double> tl_V, tl_T;
  static thread_local std::vector<float> tl_Vf;
  Lanczos lz(packed.P, m, b, smax, tl_V, tl_Vf, tl_T);
  lz.start(c);
  // Flops are added to r at every exit, so the exact fallback counts both.
  auto finish = [&](TopEigen out) {
    out.flops += lz.flops;
    return out;
  };

  ConvergenceTest test(opt.tol_abs);
  double prev_lmax = -1;
  int last_check = 0;
  for (int s0 = 0;; s0 += b) {
    const int s = s0 + b;
    lz.project_block(s0);
    lz.track_centering(s0, c);
    r.subspace = s;
    // Rayleigh-Ritz every step up to s = 256, then only once s grew by 25%
    // (the remaining-error estimate stays conservative for longer steps).
    // None before 2.5 kmax: a K-sum needs a Krylov space of 2-3 K to settle
    // (measured 192-320 for K = 64, and the test needs three checks), and a
    // check's band eigensolve costs about what a block step does.
    const int first_check = std::max(kmax + b, 5 * kmax / 2);
    if (s >= first_check && (s <= 256 || 4 * s >= 5 * last_check || s + b > smax)) {
      last_check = s;
      // Mc's Ritz values until its top value settles (its top sums when asked),
      // beside M's: two single-threaded eigensolves, one per worker.
      const bool with_c = !lmax_done || want_c;
      std::vector<double> ritz, ritz_c;
      {
        const ScopedBlasThreads serial(1);  // set here, so the two solves leave OpenBLAS's setting alone
        parallel_for(with_c ? 2 : 1, 1, [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i) {
            if (i == 0) ritz = band_ritz_values(lz.T, lz.ldt, s, b);
            else ritz_c = lz.centered_ritz(s, c);
          }
        });
      }
      std::vector<double> sums_c;
      if (with_c) {
        sums_c = prefix_sums(ritz_c, opt.Ks_centered);
        if (!lmax_done) {
          lmax = ritz_c.front();
          lmax_done = prev_lmax > 0 && lmax - prev_lmax <= opt.tol_rel_lmax * std::abs(lmax);
          prev_lmax = lmax;
        }
      }
      const auto sums = prefix_sums(ritz, Ks);
      lz.flops += 6.0 * s * static_cast<double>(s) * b;
      std::vector<double> all_sums = sums;  // Ritz sums of M and of Mc both only grow
      all_sums.insert(all_sums.end(), sums_c.begin(), sums_c.end());
      const bool sums_settled = test.settled(all_sums);
      if (lmax_done && sums_settled) {
        r.top_sums = sums;
        r.top_sums_c = sums_c;
        r.lmax_c = lmax;
        return finish(r);
      }
    }
    if (s + b > smax) return finish(exact());
    lz.extend(s0);
  }
}

}  // namespace ctscope::linalg
