// What the binding files share: running long calls with the GIL released and
// Ctrl-C honoured, and JSON results as Python objects. The Python module is
// a thin layer over the same functions the CLI calls; it holds no numerics.
#pragma once
#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

#include "ct/basis.hpp"
#include "util/progress.hpp"

namespace ctscope::python {

namespace py = pybind11;

// Thrown from a progress callback when a Python signal handler raised
// (KeyboardInterrupt on Ctrl-C): unwinds the C++ call, whose caller then
// re-raises the pending Python exception.
struct Interrupted {};

// A ProgressFn for calls run without the GIL: after each item it takes the GIL
// briefly to run Python's signal handlers, and throws Interrupted if one
// raised. With `show`, also the terminal progress bar (stderr, TTY only).
ProgressFn interruptible_progress(bool show);

// fn() with the GIL released; an Interrupted becomes the pending Python exception.
template <typename Fn>
auto without_gil(Fn&& fn) -> decltype(fn()) {
  try {
    py::gil_scoped_release release;
    return fn();
  } catch (const Interrupted&) {
    throw py::error_already_set();
  }
}

// "gaussian" -> BasisKind::Gaussian; ctscope.Error listing the names otherwise.
ct::BasisKind basis_kind(const std::string& name);

// nlohmann::json -> dict / list / str / int / float / bool / None (invalid UTF-8 replaced).
py::object to_python(const nlohmann::json& j);

void bind_checkpoint(py::module_& m);
void bind_analysis(py::module_& m);
void bind_fit(py::module_& m);
void bind_models(py::module_& m);

}  // namespace ctscope::python
