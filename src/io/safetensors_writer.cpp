#include "io/safetensors_writer.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace ctscope {

uint64_t safetensors_entry_bytes(const SafetensorsEntry& e, const std::string& where) {
  if (traits(e.dtype).block_elems != 1)
    fail(where, "tensor '{}': dtype {} cannot be stored in safetensors", e.name, dtype_name(e.dtype));
  uint64_t n = 1;
  for (int64_t d : e.shape) {
    if (d < 0) fail(where, "tensor '{}': negative dimension {}", e.name, d);
    if (mul_overflows(n, static_cast<uint64_t>(d), &n)) fail(where, "tensor '{}': element count overflows", e.name);
  }
  auto bytes = dtype_bytes(e.dtype, n);
  if (!bytes) fail(where, "tensor '{}': byte size overflows", e.name);
  return *bytes;
}

std::string safetensors_header(const std::vector<SafetensorsEntry>& entries,
                               const std::map<std::string, std::string>& metadata, const std::string& where) {
  // ordered_json keeps declaration order, so the header reads like the data.
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& e : entries) {
    if (e.name == "__metadata__" || e.name.empty()) fail(where, "invalid tensor name '{}'", e.name);
    if (!names.insert(e.name).second) fail(where, "tensor '{}' declared twice", e.name);
    uint64_t end = 0;
    if (add_overflows(offset, safetensors_entry_bytes(e, where), &end)) fail(where, "total size overflows");
    h[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string json;
  try {
    json = h.dump();  // strict: a file others read must be valid UTF-8
  } catch (const nlohmann::json::type_error&) {
    fail(where, "a tensor name or metadata value is not valid UTF-8 (safetensors headers must be)");
  }
  json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as in the reference
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json;
}

SafetensorsWriter::SafetensorsWriter(std::filesystem::path path, std::vector<SafetensorsEntry> entries,
                                     std::map<std::string, std::string> metadata)
    : path_(std::move(path)), entries_(std::move(entries)), file_(path_) {
  const std::string header = safetensors_header(entries_, metadata, file_.shown());
  file_size_ = header.size();
  for (const auto& e : entries_) {
    sizes_.push_back(safetensors_entry_bytes(e, file_.shown()));
    file_size_ += sizes_.back();
  }
  file_.write(header);
  skip_empty();
}

void SafetensorsWriter::skip_empty() {
  while (current_ < entries_.size() && done_ == sizes_[current_]) {
    ++current_;
    done_ = 0;
  }
}

void SafetensorsWriter::write(std::string_view name, const void* bytes, size_t n) {
  if (n == 0) return;  // empty tensors are skipped over automatically
  if (current_ >= entries_.size()) fail(file_.shown(), "tensor '{}' written after all declared tensors", name);
  const auto& e = entries_[current_];
  if (name != e.name) fail(file_.shown(), "tensor '{}' written out of order (expected '{}')", name, e.name);
  if (n > sizes_[current_] - done_)
    fail(file_.shown(), "tensor '{}': {} more bytes exceed its size {} ({} already written)", name, n,
         sizes_[current_], done_);
  file_.write(bytes, n);
  done_ += n;
  skip_empty();
}

void SafetensorsWriter::commit(const std::function<void(const std::filesystem::path&)>& check) {
  if (current_ < entries_.size())
    fail(file_.shown(), "tensor '{}' incomplete: {} of {} bytes written", entries_[current_].name, done_,
         sizes_[current_]);
  file_.commit(check);
}

void write_hf_index(const std::filesystem::path& dir, const std::map<std::string, std::string>& weight_map,
                    uint64_t total_size) {
  nlohmann::ordered_json j;
  j["metadata"] = {{"total_size", total_size}};
  j["weight_map"] = weight_map;
  write_file_atomic(dir / "model.safetensors.index.json", j.dump(2) + "\n");
}

}  // namespace ctscope
