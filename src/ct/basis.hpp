// Row bases for the CT fit. Every basis is a K x d matrix B whose rows span the
// subspace a weight row is projected on; it is factored once per (kind, K, d)
// as B^T = Q R (Q: d x K orthonormal columns, R: K x K upper triangular), so
// amplitudes A = W B^T (B B^T)^-1 = (W Q) R^-T and W_hat = A B = (W Q) Q^T.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ctscope::ct {

enum class BasisKind { Gaussian, Dct, Random, Svd, Universal };
std::string_view basis_name(BasisKind k);                 // "gaussian", ...
std::optional<BasisKind> basis_from_name(std::string_view s);

// K x d row-major, double. Definitions in docs/ct-analysis.md.
std::vector<double> gaussian_basis(int K, int64_t d);     // mu_k = k (d-1)/(K-1), sigma = d/K, unnormalized
std::vector<double> dct_basis(int K, int64_t d);          // first K DCT-II vectors
std::vector<double> random_basis(int K, int64_t d, uint64_t seed);  // seeded N(0,1) entries

struct FactoredBasis {
  BasisKind kind = BasisKind::Gaussian;
  int K = 0;
  int64_t d = 0;
  std::vector<double> B;       // K x d, the basis as defined (what W_hat = A B uses)
  std::vector<double> Q;       // d x K row-major, orthonormal columns spanning B's rows
  std::vector<float> Qf;       // same, float32, for the GEMMs
  std::vector<double> R;       // K x K upper triangular, B^T = Q R
  std::vector<double> offset;  // universal basis: the pooled mean row (d); empty otherwise
  // The amplitude PR of white noise through this basis: rows with covariance I
  // give amplitudes with covariance M = (B B^T)^-1 = R^-1 R^-T, whose PR is
  // (tr M)^2 / tr(M^2) (= K for orthonormal rows). The baseline of amplitude_pr.
  double amplitude_pr_null = 0;
};

// (tr M)^2 / tr(M^2) for M = R^-1 R^-T, R: K x K upper triangular (row-major), in double.
double white_noise_amplitude_pr(const std::vector<double>& R, int K);

// QR-factor B (K x d) in double. Throws ctscope::Error if B is rank deficient
// (e.g. K > d), naming kind, K and d.
FactoredBasis factor_basis(BasisKind kind, int K, int64_t d, std::vector<double> B,
                           std::vector<double> offset = {});

// Fixed bases (gaussian, dct, random) depend only on (kind, K, d[, seed]).
FactoredBasis make_fixed_basis(BasisKind kind, int K, int64_t d, uint64_t seed = 0x5eed);

}  // namespace ctscope::ct
