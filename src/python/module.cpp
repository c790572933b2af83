// The compiled part of the `ctscope` Python package (python/ctscope/__init__.py
// wraps it): ctscope.Error for every input problem, as in the CLI.
#include "linalg/blas_core.hpp"
#include "python/bindings.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"

namespace ctscope::python {

ProgressFn interruptible_progress(bool show) {
  auto bar = std::make_shared<ProgressBar>(show);
  return [bar](size_t done, size_t total, std::string_view item, double bytes) {
    (*bar)(done, total, item, bytes);
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw Interrupted{};
  };
}

ct::BasisKind basis_kind(const std::string& name) {
  auto b = ct::basis_from_name(name);
  if (!b) throw Error("basis: unknown basis '" + name + "' (gaussian, dct, random, svd, universal)");
  return *b;
}

py::object to_python(const nlohmann::json& j) {
  // Imported per call (sys.modules caches it): a static py::object would be
  // released after the interpreter is gone.
  return py::module_::import("json").attr("loads")(json_text(j));
}

}  // namespace ctscope::python

PYBIND11_MODULE(_ctscope, m) {
  namespace python = ctscope::python;
  m.doc() = "ctscope's engine (use the `ctscope` package, which wraps this module)";
  m.attr("__version__") = CTSCOPE_VERSION;
  pybind11::register_exception<ctscope::Error>(m, "Error");
  python::bind_checkpoint(m);
  python::bind_analysis(m);
  python::bind_fit(m);
  python::bind_models(m);
  // The tests run the CLI on the same kernels as this process (python/tests/conftest.py).
  m.def("_blas_core", &ctscope::linalg::blas_core, "the kernel family OpenBLAS uses in this process");
  // OpenBLAS was loaded with the interpreter's process and picked its kernels
  // then; unlike the CLI, a module cannot start its process again. Say once
  // (at import) what to set before starting Python.
  const auto plan = ctscope::linalg::blas_core_plan();
  if (plan.action == ctscope::linalg::BlasCorePlan::Action::restart) {
    const std::string msg = "ctscope: " + plan.note + "; set OPENBLAS_CORETYPE=" + plan.best +
                            " in the environment before starting Python for the faster kernels";
    if (PyErr_WarnEx(PyExc_RuntimeWarning, msg.c_str(), 1) < 0) throw pybind11::error_already_set();
  }
}
