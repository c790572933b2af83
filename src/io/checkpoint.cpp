#include "io/checkpoint.hpp"

#include <cstring>
#include <fstream>

#include "io/formats.hpp"
#include "io/model_path.hpp"
#include "util/error.hpp"

namespace ctscope {

std::string_view format_name(Format f) {
  switch (f) {
    case Format::Safetensors: return "safetensors";
    case Format::Gguf: return "gguf";
    case Format::Llama2c: return "llama2c";
  }
  return "?";
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (auto s : shape) n *= static_cast<uint64_t>(s);
  return n;
}

Checkpoint Checkpoint::open(const std::filesystem::path& given) {
  const std::filesystem::path path = resolve_model_path(given);  // a hub cache folder or repo id: its snapshot
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))  // ec: a symlink loop, a directory we may not search, ...
    fail(path.string(), "{}", ec ? ec.message() : std::string("no such file or directory"));
  if (std::filesystem::is_directory(path, ec)) return open_hf_directory(path);
  if (!std::filesystem::is_regular_file(path, ec))
    fail(path.string(), "not a regular file (pipes, devices and directories are not read as files)");
  // Sniff the magic rather than trusting the extension.
  char magic[8] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path.string(), "cannot open");
    in.read(magic, sizeof magic);
  }
  if (std::memcmp(magic, "GGUF", 4) == 0) return open_gguf(path);
  const auto ext = path.extension().string();
  if (ext == ".safetensors") return open_safetensors_file(path);
  if (ext == ".gguf") fail(path.string(), "not a GGUF file (bad magic)");
  if (ext == ".bin") return open_llama2c(path);
  fail(path.string(), "unknown checkpoint format (expected a directory, .safetensors, .gguf or llama2.c .bin)");
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo* Checkpoint::find(int layer, Role role) const {
  for (const auto& t : tensors)
    if (t.layer == layer && t.role == role) return &t;
  return nullptr;
}

std::span<const std::byte> Checkpoint::bytes(const TensorInfo& t) const {
  return files.at(static_cast<size_t>(t.file))->view(t.offset, t.nbytes, t.name.c_str());
}

void Checkpoint::read_f32(const TensorInfo& t, std::span<float> out) const {
  if (out.size() != t.numel()) throw Error(fmt::format("{}: read_f32 buffer size mismatch", t.name));
  try {
    convert_to_f32(t.dtype, bytes(t).data(), out.size(), out.data());
  } catch (const Error& e) {
    fail(files.at(static_cast<size_t>(t.file))->path(), "tensor {}: {}", t.name, e.what());
  }
}

std::vector<float> Checkpoint::read_f32(const TensorInfo& t) const {
  std::vector<float> v(t.numel());
  read_f32(t, v);
  return v;
}

void Checkpoint::release(const TensorInfo& t) const {
  files.at(static_cast<size_t>(t.file))->release(t.offset, t.nbytes);
}

uint64_t Checkpoint::total_params() const {
  uint64_t n = 0;
  for (const auto& t : tensors)
    if (t.alias_of.empty()) n += t.numel();
  return n;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors)
    if (t.alias_of.empty()) n += t.nbytes;
  return n;
}

void Checkpoint::assign_roles() {
  for (auto& t : tensors) {
    auto r = classify_tensor(t.name);
    t.layer = r.layer;
    t.role = r.role;
  }
}

}  // namespace ctscope
