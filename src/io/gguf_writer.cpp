#include "io/gguf_writer.hpp"

#include <cstring>
#include <set>

#include "util/error.hpp"

namespace ctscope {
namespace {

using gguf::ValueType;

// Little-endian encoding of the header (GGUF v3: 64-bit counts and lengths).
class Encoder {
 public:
  template <typename T>
  void put(T v) {
    char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof v);
    out.append(raw, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    out += s;
  }
  void value(const GgufValue& v, const std::string& where, const std::string& key) {
    put<uint32_t>(static_cast<uint32_t>(v.type));
    switch (v.type) {
      case ValueType::UInt8: return put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.value)));
      case ValueType::UInt16: return put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.value)));
      case ValueType::UInt32: return put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.value)));
      case ValueType::UInt64: return put<uint64_t>(std::get<uint64_t>(v.value));
      case ValueType::Int8: return put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.value)));
      case ValueType::Int16: return put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.value)));
      case ValueType::Int32: return put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.value)));
      case ValueType::Int64: return put<int64_t>(std::get<int64_t>(v.value));
      case ValueType::Float32: return put<float>(static_cast<float>(std::get<double>(v.value)));
      case ValueType::Float64: return put<double>(std::get<double>(v.value));
      case ValueType::Bool: return put<uint8_t>(std::get<bool>(v.value) ? 1 : 0);
      case ValueType::String: return str(std::get<std::string>(v.value));
      case ValueType::Array: return array(v, where, key);
    }
  }
  std::string out;

 private:
  void array(const GgufValue& v, const std::string& where, const std::string& key) {
    if (const auto* s = std::get_if<std::vector<std::string>>(&v.value)) {
      put<uint32_t>(static_cast<uint32_t>(ValueType::String));
      put<uint64_t>(s->size());
      for (const auto& e : *s) str(e);
    } else if (const auto* f = std::get_if<std::vector<float>>(&v.value)) {
      put<uint32_t>(static_cast<uint32_t>(ValueType::Float32));
      put<uint64_t>(f->size());
      for (float e : *f) put<float>(e);
    } else if (const auto* i = std::get_if<std::vector<int32_t>>(&v.value)) {
      put<uint32_t>(static_cast<uint32_t>(ValueType::Int32));
      put<uint64_t>(i->size());
      for (int32_t e : *i) put<int32_t>(e);
    } else {
      fail(where, "metadata {}: an array must hold strings, float32 or int32", key);
    }
  }
};

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter::GgufWriter(std::filesystem::path path, std::vector<GgufKeyValue> metadata,
                       std::vector<GgufTensorEntry> tensors)
    : tensors_(std::move(tensors)), file_(std::move(path)) {
  const std::string& where = file_.shown();
  Encoder h;
  h.put<uint32_t>(gguf::kMagic);
  h.put<uint32_t>(3);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(metadata.size());
  std::set<std::string> keys;
  for (const auto& kv : metadata) {
    if (!keys.insert(kv.key).second) fail(where, "metadata key {} given twice", kv.key);
    h.str(kv.key);
    try {
      h.value(kv.value, where, kv.key);
    } catch (const std::bad_variant_access&) {
      fail(where, "metadata {}: value does not match its declared type", kv.key);
    }
  }
  std::set<std::string> names;
  uint64_t rel = 0;
  std::vector<uint64_t> rel_offsets;
  for (const auto& t : tensors_) {
    if (!names.insert(t.name).second) fail(where, "tensor {} declared twice", t.name);
    const auto type = gguf::ggml_from_dtype(t.dtype);
    if (!type) fail(where, "tensor {}: {} has no ggml type", t.name, dtype_name(t.dtype));
    if (t.shape.empty() || t.shape.size() > gguf::kMaxDims) fail(where, "tensor {}: {} dims", t.name, t.shape.size());
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || mul_overflows(numel, static_cast<uint64_t>(d), &numel)) fail(where, "tensor {}: bad shape", t.name);
    }
    if (t.shape.back() % traits(t.dtype).block_elems != 0)
      fail(where, "tensor {}: row length {} is not a multiple of the {} block size {}", t.name, t.shape.back(),
           dtype_name(t.dtype), traits(t.dtype).block_elems);
    const auto bytes = dtype_bytes(t.dtype, numel);
    if (!bytes) fail(where, "tensor {}: byte size overflows", t.name);
    h.str(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (size_t i = t.shape.size(); i-- > 0;) h.put<uint64_t>(static_cast<uint64_t>(t.shape[i]));  // ne[0] first
    h.put<uint32_t>(static_cast<uint32_t>(*type));
    h.put<uint64_t>(rel);
    sizes_.push_back(*bytes);
    rel_offsets.push_back(rel);
    rel = round_up(rel + *bytes, gguf::kDefaultAlignment);
  }
  const uint64_t data_start = round_up(h.out.size(), gguf::kDefaultAlignment);
  for (uint64_t r : rel_offsets) starts_.push_back(data_start + r);
  file_size_ = tensors_.empty() ? h.out.size() : starts_.back() + sizes_.back();
  file_.write(h.out);
  if (!tensors_.empty()) pad_to(starts_[0]);
  advance();
}

void GgufWriter::pad_to(uint64_t pos) {
  static const char zeros[gguf::kDefaultAlignment] = {};
  file_.write(zeros, static_cast<size_t>(pos - file_.bytes_written()));
}

// Past every finished tensor, padding up to the next one's start.
void GgufWriter::advance() {
  while (current_ < tensors_.size() && done_ == sizes_[current_]) {
    ++current_;
    done_ = 0;
    if (current_ < tensors_.size()) pad_to(starts_[current_]);
  }
}

void GgufWriter::write(std::string_view name, const void* bytes, size_t n) {
  if (n == 0) return;
  if (current_ >= tensors_.size()) fail(file_.shown(), "tensor '{}' written after all declared tensors", name);
  const auto& t = tensors_[current_];
  if (name != t.name) fail(file_.shown(), "tensor '{}' written out of order (expected '{}')", name, t.name);
  if (n > sizes_[current_] - done_)
    fail(file_.shown(), "tensor '{}': {} more bytes exceed its size {}", name, n, sizes_[current_]);
  file_.write(bytes, n);
  done_ += n;
  advance();
}

void GgufWriter::commit() {
  if (current_ < tensors_.size())
    fail(file_.shown(), "tensor '{}' incomplete: {} of {} bytes written", tensors_[current_].name, done_,
         sizes_[current_]);
  file_.commit();
}

}  // namespace ctscope
