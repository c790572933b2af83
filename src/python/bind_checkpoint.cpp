// ctscope.open(path) -> Checkpoint: config, tensor list, and tensors as numpy
// arrays (read-only views of the mapped file for F32, float32 copies otherwise).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>
#include <span>

#include "python/bindings.hpp"
#include "report/checkpoint_report.hpp"
#include "util/error.hpp"

namespace ctscope::python {

namespace {

py::array tensor_array(const std::shared_ptr<Checkpoint>& ck, const std::string& name) {
  const TensorInfo* t = ck->find(name);
  if (!t) fail(ck->path.string(), "no tensor named '{}'", name);
  const std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end());
  if (t->dtype == DType::F32) {
    // A view of the mapped bytes; the array keeps the checkpoint (and its map) alive.
    const auto bytes = ck->bytes(*t);
    py::array view(py::dtype::of<float>(), shape, std::vector<py::ssize_t>{},
                   const_cast<std::byte*>(bytes.data()), py::cast(ck));
    view.attr("setflags")(py::arg("write") = false);
    return view;
  }
  py::array_t<float> copy(shape);
  ck->read_f32(*t, std::span<float>(copy.mutable_data(), static_cast<size_t>(t->numel())));
  return copy;
}

}  // namespace

void bind_checkpoint(py::module_& m) {
  py::class_<Checkpoint, std::shared_ptr<Checkpoint>>(
      m, "Checkpoint", "A checkpoint in any format ctscope reads; tensors stay in the mapped file until asked for")
      .def_property_readonly("path", [](const Checkpoint& ck) { return ck.path.string(); })
      .def_property_readonly("format", [](const Checkpoint& ck) { return std::string(format_name(ck.format)); })
      .def_property_readonly(
          "config", [](const Checkpoint& ck) { return to_python(report::checkpoint_json(ck)["config"]); },
          "the model's hyperparameters (dim, hidden_dim, n_layers, ...)")
      .def_property_readonly(
          "tensors", [](const Checkpoint& ck) { return to_python(report::checkpoint_json(ck)["tensor_list"]); },
          "one dict per tensor: name, role, layer, dtype, shape, params, bytes, file, offset[, alias_of]")
      .def_property_readonly("total_params", &Checkpoint::total_params)
      .def("tensor", &tensor_array, py::arg("name"),
           "the tensor as a numpy array: a read-only view of the file for F32, a float32 copy otherwise")
      .def("__repr__", [](const Checkpoint& ck) {
        return "<ctscope.Checkpoint " + ck.path.string() + " (" + std::string(format_name(ck.format)) + ", " +
               std::to_string(ck.tensors.size()) + " tensors)>";
      });
  m.def(
      "open", [](const std::filesystem::path& path) { return std::make_shared<Checkpoint>(Checkpoint::open(path)); },
      py::arg("path"),
      "Open a checkpoint: a Hugging Face directory, .safetensors, .gguf, llama2.c .bin or .ct.safetensors");
}

}  // namespace ctscope::python
