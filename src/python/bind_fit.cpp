// Bases and fits for any matrix a user brings: ctscope.basis(kind, K, d) and
// ctscope.fit(W, K, basis) -> amplitudes, reconstruction, R^2.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "ct/amplitudes.hpp"
#include "ct/basis.hpp"
#include "ct/svd_basis.hpp"
#include "ct/universal_basis.hpp"
#include "python/bindings.hpp"
#include "util/error.hpp"

namespace ctscope::python {

namespace {

using FloatMatrix = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::array_t<double> basis_matrix(const std::string& kind, int K, int64_t d, uint64_t seed) {
  const ct::BasisKind b = basis_kind(kind);
  if (b == ct::BasisKind::Svd || b == ct::BasisKind::Universal)
    throw Error("basis " + kind + " is fitted from weights: use ctscope.fit(W, K, '" + kind + "')");
  const ct::FactoredBasis f = ct::make_fixed_basis(b, K, d, seed);
  py::array_t<double> out({static_cast<py::ssize_t>(K), static_cast<py::ssize_t>(d)});
  std::copy(f.B.begin(), f.B.end(), out.mutable_data());
  return out;
}

// The basis for W: fixed ones from (K, d, seed); svd and universal from W itself.
ct::FactoredBasis basis_for(const linalg::MatrixView& W, ct::BasisKind kind, int K, uint64_t seed) {
  if (kind == ct::BasisKind::Svd) return ct::svd_basis(W, K);
  if (kind == ct::BasisKind::Universal) {
    ct::UniversalAccumulator acc(W.d);
    acc.add(W);
    return acc.basis(K);
  }
  return ct::make_fixed_basis(kind, K, W.d, seed);
}

py::dict fit(const FloatMatrix& W, int K, const std::string& basis, uint64_t seed) {
  if (W.ndim() != 2) throw Error("fit: W must be a 2-D matrix (rows x d)");
  const int64_t n = W.shape(0), d = W.shape(1);
  const linalg::MatrixView view{DType::F32, W.data(), n, d};
  const ct::BasisKind kind = basis_kind(basis);
  std::vector<float> Wh;
  ct::FactoredBasis b;
  const ct::RowFit f = without_gil([&] {
    b = basis_for(view, kind, K, seed);
    return ct::fit_rows(view, b, &Wh);
  });
  py::array_t<float> A({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(K)});
  std::copy(f.A.begin(), f.A.end(), A.mutable_data());
  py::array_t<float> R({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(d)});
  std::copy(Wh.begin(), Wh.end(), R.mutable_data());
  py::array_t<double> B({static_cast<py::ssize_t>(K), static_cast<py::ssize_t>(d)});
  std::copy(b.B.begin(), b.B.end(), B.mutable_data());
  py::dict out;
  out["amplitudes"] = A;
  out["reconstruction"] = R;
  out["basis"] = B;
  if (!b.offset.empty()) out["offset"] = py::array_t<double>(static_cast<py::ssize_t>(d), b.offset.data());
  out["sse"] = f.sse;
  out["sst"] = f.sst;
  out["r2"] = f.sst > 0 ? 1.0 - f.sse / f.sst : 0.0;
  return out;
}

}  // namespace

void bind_fit(py::module_& m) {
  m.def("basis", &basis_matrix, py::arg("kind"), py::arg("K"), py::arg("d"), py::arg("seed") = 0x5eed,
        "The K x d basis of a fixed kind (gaussian, dct, random) as defined in docs/ct-analysis.md");
  m.def("fit", &fit, py::arg("W"), py::arg("K"), py::arg("basis") = "gaussian", py::arg("seed") = 0x5eed,
        "Least-squares fit of every row of W (n x d) with K basis rows: dict with amplitudes (n x K), "
        "reconstruction (n x d), basis (K x d; svd and universal are computed from W), sse, sst, r2");
}

}  // namespace ctscope::python
