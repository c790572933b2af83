// safetensors files and Hugging Face model directories. Validation follows the
// reference library (huggingface/safetensors): a u64 header length, a JSON
// header of at most 100 MB, and tensor byte ranges that tile the data buffer
// exactly - contiguous from 0, no holes, no overlap, ending at the end of file.
#include <algorithm>
#include <array>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "io/formats.hpp"
#include "util/error.hpp"
#include "util/resource_limits.hpp"

namespace ctscope {
namespace {

// Only the dtypes the safetensors format defines that we can represent; the
// GGUF block types share DType but are not valid here.
std::optional<DType> safetensors_dtype(std::string_view name) {
  static constexpr std::array<DType, 12> kAllowed{DType::F64, DType::F32, DType::F16,  DType::BF16,
                                                  DType::I64, DType::I32, DType::I16,  DType::I8,
                                                  DType::U8,  DType::Bool, DType::F8_E4M3, DType::F8_E5M2};
  for (DType t : kAllowed)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct ParsedFile {
  std::vector<TensorInfo> tensors;  // sorted by offset
  std::map<std::string, std::string> metadata;
};

// A first, linear pass over the header (nlohmann's SAX interface): the parser
// keeps the last of repeated keys, so a repeated tensor name - an ambiguous
// file - is caught here, and so is nesting deeper than any safetensors header
// has. (A parse callback would do the first, but nlohmann 3.11's callback
// parser scans each parent object again: quadratic in the tensor count.)
class HeaderScan : public nlohmann::json_sax<nlohmann::json> {
 public:
  static constexpr int kMaxDepth = 8;
  std::string duplicate, error;
  bool too_deep = false;

  bool key(string_t& k) override {
    if (depth_ == 1 && !seen_.insert(k).second && duplicate.empty()) duplicate = k;
    return true;
  }
  bool start_object(std::size_t) override { return enter(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_object() override { return leave(); }
  bool end_array() override { return leave(); }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  bool enter() {
    too_deep = ++depth_ > kMaxDepth;
    return !too_deep;
  }
  bool leave() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  std::set<std::string> seen_;
};

nlohmann::json parse_header(const std::string& path, std::string_view text) {
  if (text.empty() || text.front() != '{') fail(path, "header does not start with '{{' (not a safetensors file?)");
  HeaderScan scan;
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &scan)) {
    if (scan.too_deep) fail(path, "header nests deeper than {} levels (not a safetensors header)", HeaderScan::kMaxDepth);
    fail(path, "header is not valid JSON: {}", scan.error);
  }
  if (!scan.duplicate.empty()) fail(path, "header lists '{}' twice", scan.duplicate);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail(path, "header is not valid JSON: {}", e.what());
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");
  return j;
}

uint64_t get_u64(const nlohmann::json& v, bool* ok) {
  *ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  return *ok ? v.get<uint64_t>() : 0;
}

TensorInfo parse_entry(const std::string& path, const std::string& name, const nlohmann::json& e) {
  if (!e.is_object()) fail(path, "tensor '{}': entry is not an object", name);
  TensorInfo t;
  t.name = name;
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) fail(path, "tensor '{}': missing or non-string 'dtype'", name);
  auto dtype = safetensors_dtype(dt->get<std::string>());
  if (!dtype) fail(path, "tensor '{}': unknown dtype '{}'", name, dt->get<std::string>());
  t.dtype = *dtype;

  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) fail(path, "tensor '{}': missing or non-array 'shape'", name);
  // Errors quote shapes: a rank no model has is refused before anything quotes it.
  limits::check(path, fmt::format("tensor '{}': number of dimensions", name), sh->size(), limits::kMaxRank,
                "dimensions of one tensor");
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    bool ok = false;
    uint64_t v = get_u64(d, &ok);
    if (!ok || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(path, "tensor '{}': shape entries must be non-negative integers", name);
    limits::check(path, fmt::format("tensor '{}': dimension", name), v, limits::kMaxDim, "one dimension");
    if (mul_overflows(numel, v, &numel)) fail(path, "tensor '{}': element count of its shape overflows", name);
    t.shape.push_back(static_cast<int64_t>(v));
  }

  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2)
    fail(path, "tensor '{}': 'data_offsets' must be [begin, end]", name);
  bool ok_b = false, ok_e = false;
  uint64_t begin = get_u64((*off)[0], &ok_b), end = get_u64((*off)[1], &ok_e);
  if (!ok_b || !ok_e) fail(path, "tensor '{}': data_offsets must be non-negative integers", name);
  if (end < begin) fail(path, "tensor '{}': data_offsets [{}, {}) end before they begin", name, begin, end);
  auto need = dtype_bytes(t.dtype, numel);
  if (!need) fail(path, "tensor '{}': byte size of shape {} of {} overflows", name, shape_str(t.shape), dtype_name(t.dtype));
  if (end - begin != *need)
    fail(path, "tensor '{}': data_offsets [{}, {}) hold {} bytes but shape {} of {} needs {}", name, begin, end,
         end - begin, shape_str(t.shape), dtype_name(t.dtype), *need);
  t.offset = begin;  // relative for now; made absolute once the layout is checked
  t.nbytes = *need;
  return t;
}

ParsedFile parse_file(const MappedFile& f, int file_index) {
  const std::string& path = f.path();
  if (f.size() < 8) fail(path, "file is {} bytes, too short for the 8-byte header length", f.size());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint64_t>(f.data()[i]);  // little-endian
  limits::check(path, "header length", n, limits::kMaxHeaderBytes, "bytes of a safetensors header");
  if (8 + n > f.size()) fail(path, "header length {} runs past the end of the file ({} bytes)", n, f.size());
  const uint64_t data_start = 8 + n, buffer_len = f.size() - data_start;

  auto j = parse_header(path, {reinterpret_cast<const char*>(f.data()) + 8, static_cast<size_t>(n)});
  limits::check(path, "tensor count", j.size(), limits::kMaxTensors, "tensors in one file");
  ParsedFile out;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(path, "__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail(path, "__metadata__ '{}' is not a string (must map strings to strings)", mk);
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    limits::check_name(path, "tensor name", key);
    out.tensors.push_back(parse_entry(path, key, value));
  }

  // Byte ranges of non-empty tensors must tile [0, buffer_len) in offset order.
  std::stable_sort(out.tensors.begin(), out.tensors.end(),
                   [](const TensorInfo& a, const TensorInfo& b) { return a.offset < b.offset; });
  uint64_t expect = 0;
  for (auto& t : out.tensors) {
    t.file = file_index;
    if (t.nbytes == 0) {  // occupies no bytes: anywhere inside the buffer, whatever the order
      if (t.offset > buffer_len)
        fail(path, "tensor '{}': data_offsets [{}, {}) lie past the end of the data buffer ({} bytes)", t.name,
             t.offset, t.offset, buffer_len);
      t.offset += data_start;
      continue;
    }
    if (t.offset < expect)
      fail(path, "tensor '{}': data_offsets [{}, {}) overlap the previous tensor (ends at {})", t.name, t.offset,
           t.offset + t.nbytes, expect);
    if (t.offset > expect)
      fail(path, "tensor '{}': data_offsets begin at {} but the previous data ends at {} (hole in the buffer)", t.name,
           t.offset, expect);
    expect = t.offset + t.nbytes;  // no overflow: end was read as a u64 and begin <= end
    if (expect > buffer_len)
      fail(path, "tensor '{}': data_offsets [{}, {}) run past the end of the data buffer ({} bytes)", t.name, t.offset,
           expect, buffer_len);
    t.offset += data_start;
  }
  if (expect != buffer_len)
    fail(path, "tensors end at data offset {} but the data buffer is {} bytes (trailing bytes)", expect, buffer_len);
  return out;
}

nlohmann::json read_json_file(const std::filesystem::path& p, const char* what) {
  auto f = MappedFile::open(p.string());
  try {
    return nlohmann::json::parse(reinterpret_cast<const char*>(f->data()),
                                 reinterpret_cast<const char*>(f->data()) + f->size());
  } catch (const nlohmann::json::exception& e) {
    fail(p.string(), "{} is not valid JSON: {}", what, e.what());
  }
}

ModelConfig read_config(const std::filesystem::path& p) {
  return from_hf_config(read_json_file(p, "config"), p.string());
}

// No config.json: read what the shapes tell. Head counts are not in the shapes;
// assume head_dim 64 (every Llama size from TinyLlama to 70B uses it), and the
// kv heads then follow from k_proj's rows.
ModelConfig infer_config(const Checkpoint& ck) {
  ModelConfig c;
  c.rope = RopeLayout::HalfSplit;
  if (const auto* e = ck.find(-1, Role::EmbedTokens); e && e->is_matrix()) {
    c.vocab_size = e->rows();
    c.dim = e->cols();
  }
  int max_layer = -1;
  for (const auto& t : ck.tensors) max_layer = std::max(max_layer, t.layer);
  c.n_layers = max_layer + 1;
  if (const auto* g = ck.find(0, Role::GateProj); g && g->is_matrix()) c.hidden_dim = g->rows();
  if (c.dim > 0 && c.dim % 64 == 0) {
    c.n_heads = c.dim / 64;
    c.n_kv_heads = c.n_heads;
    if (const auto* k = ck.find(0, Role::KProj); k && k->is_matrix() && k->rows() > 0 && k->rows() % 64 == 0)
      c.n_kv_heads = c.n_heads * k->rows() / c.dim;
  }
  c.tie_embeddings = ck.find(-1, Role::LmHead) == nullptr && c.vocab_size > 0;
  return c;
}

void add_file(Checkpoint& ck, const std::filesystem::path& p) {
  auto f = MappedFile::open(p.string());
  auto parsed = parse_file(*f, static_cast<int>(ck.files.size()));
  ck.files.push_back(std::move(f));
  for (auto& t : parsed.tensors) ck.tensors.push_back(std::move(t));
  ck.metadata.merge(parsed.metadata);  // first shard wins on a repeated key
}

// A shard name from the index must stay inside the model directory.
void check_shard_name(const std::filesystem::path& index, const std::string& shard) {
  std::filesystem::path p(shard);
  bool bad = shard.empty() || p.is_absolute();
  for (const auto& part : p) bad = bad || part == "..";
  if (bad) fail(index.string(), "weight_map names shard '{}' outside the model directory", shard);
}

}  // namespace

Checkpoint open_safetensors_file(const std::filesystem::path& file) {
  Checkpoint ck;
  ck.path = file;
  ck.format = Format::Safetensors;
  add_file(ck, file);
  ck.assign_roles();
  auto cfg = file.parent_path() / "config.json";
  std::error_code ec;
  ck.config = std::filesystem::exists(cfg, ec) ? read_config(cfg) : infer_config(ck);
  ck.config.rope = RopeLayout::HalfSplit;
  return ck;
}

Checkpoint open_hf_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto cfg = dir / "config.json";
  if (!std::filesystem::exists(cfg, ec))
    fail(cfg.string(), "{}", ec ? ec.message() : std::string("missing (a Hugging Face model directory needs config.json)"));
  Checkpoint ck;
  ck.path = dir;
  ck.format = Format::Safetensors;
  ck.config = read_config(cfg);
  ck.config.rope = RopeLayout::HalfSplit;

  const auto single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(single, ec)) {
    add_file(ck, single);
  } else if (std::filesystem::exists(index, ec)) {
    auto j = read_json_file(index, "index");
    if (!j.is_object()) fail(index.string(), "index is not a JSON object");
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) fail(index.string(), "missing or non-object 'weight_map'");
    std::map<std::string, std::string> where;  // tensor -> shard
    std::set<std::string> shards;
    for (const auto& [name, shard] : wm->items()) {
      if (!shard.is_string()) fail(index.string(), "weight_map entry '{}' is not a file name", name);
      check_shard_name(index, shard.get<std::string>());
      where[name] = shard.get<std::string>();
      shards.insert(shard.get<std::string>());
    }
    for (const auto& s : shards)
      if (!std::filesystem::is_regular_file(dir / s, ec))
        fail(index.string(), "shard '{}' is missing (named in weight_map)", s);
    std::map<std::string, std::string> found;  // tensor -> shard it was read from
    for (const auto& s : shards) {
      const size_t first = ck.tensors.size();
      add_file(ck, dir / s);
      for (size_t i = first; i < ck.tensors.size(); ++i) {
        const auto& name = ck.tensors[i].name;
        if (auto [it, fresh] = found.emplace(name, s); !fresh)
          fail((dir / s).string(), "tensor '{}' is also in shard '{}'", name, it->second);
        auto w = where.find(name);
        if (w == where.end()) fail((dir / s).string(), "tensor '{}' is not listed in the index weight_map", name);
        if (w->second != s)
          fail((dir / s).string(), "tensor '{}' is here but the index maps it to '{}'", name, w->second);
      }
    }
    for (const auto& [name, s] : where)
      if (!found.count(name)) fail((dir / s).string(), "tensor '{}' (mapped here by the index) is not in this shard", name);
  } else {
    fail(dir.string(), "neither model.safetensors nor model.safetensors.index.json found");
  }
  ck.assign_roles();
  return ck;
}

}  // namespace ctscope
