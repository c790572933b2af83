#include "ctfile/ct_vocab.hpp"

#include <cstring>

#include "ctfile/ct_format.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "util/error.hpp"

namespace ctscope::ctfile {

VocabTensors::VocabTensors(const Vocabulary& v, const std::string& where) {
  if (v.scores.size() != v.tokens.size())
    fail(where, "vocabulary has {} tokens but {} scores: it cannot be carried", v.tokens.size(), v.scores.size());
  if (!v.token_types.empty() && v.token_types.size() != v.tokens.size())
    fail(where, "vocabulary has {} tokens but {} token types: it cannot be carried", v.tokens.size(),
         v.token_types.size());
  for (const auto& t : v.tokens) {
    pieces_.insert(pieces_.end(), t.begin(), t.end());
    lengths_.push_back(static_cast<int32_t>(t.size()));
  }
  scores_ = v.scores;
  types_ = v.token_types;
}

std::vector<SafetensorsEntry> VocabTensors::entries() const {
  const auto V = static_cast<int64_t>(lengths_.size());
  std::vector<SafetensorsEntry> e = {{kVocabPieces, DType::U8, {static_cast<int64_t>(pieces_.size())}},
                                     {kVocabLengths, DType::I32, {V}},
                                     {kVocabScores, DType::F32, {V}}};
  if (!types_.empty()) e.push_back({kVocabTypes, DType::I32, {V}});
  return e;
}

void VocabTensors::write(SafetensorsWriter& w) const {
  w.write(kVocabPieces, pieces_.data(), pieces_.size());
  w.write(kVocabLengths, lengths_.data(), lengths_.size() * 4);
  w.write(kVocabScores, scores_.data(), scores_.size() * 4);
  if (!types_.empty()) w.write(kVocabTypes, types_.data(), types_.size() * 4);
}

std::set<std::string> vocab_tensor_names(const Checkpoint& ck) {
  if (!ck.metadata.count(kVocabModelKey)) return {};
  std::set<std::string> names = {kVocabPieces, kVocabLengths, kVocabScores};
  if (ck.find(kVocabTypes)) names.insert(kVocabTypes);
  return names;
}

namespace {

// The 1-D tensor `name` of dtype dt, its length checked when `len` >= 0.
const TensorInfo& vocab_tensor(const Checkpoint& ck, const char* name, DType dt, int64_t len) {
  const TensorInfo* t = ck.find(name);
  if (!t) fail(ck.path.string(), "metadata {} says a vocabulary is carried but tensor {} is missing", kVocabModelKey,
               name);
  if (t->dtype != dt || t->shape.size() != 1 || (len >= 0 && t->shape[0] != len))
    fail(ck.path.string(), "vocabulary tensor {} must be {} [{}]", name, dtype_name(dt), len >= 0 ? std::to_string(len) : "n");
  return *t;
}

template <typename T>
std::vector<T> values(const Checkpoint& ck, const TensorInfo& t) {
  const auto bytes = ck.bytes(t);
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

}  // namespace

Vocabulary read_vocab_to_carry(const std::filesystem::path& tokenizer, int64_t vocab_size) {
  const auto ext = tokenizer.extension().string();
  if (ext == ".model" || ext == ".json")
    fail(tokenizer.string(), "compress carries a llama2.c tokenizer.bin only; keep this {} file beside the model", ext);
  return read_llama2c_tokenizer(tokenizer, vocab_size);
}

std::optional<Vocabulary> read_vocab(const Checkpoint& ck) {
  const auto model = ck.metadata.find(kVocabModelKey);
  if (model == ck.metadata.end()) return std::nullopt;
  const std::string where = ck.path.string();
  const TensorInfo& lt = vocab_tensor(ck, kVocabLengths, DType::I32, -1);
  const int64_t V = lt.shape[0];
  if (V < 1) fail(where, "vocabulary tensor {} is empty", kVocabLengths);
  const auto lengths = values<int32_t>(ck, lt);
  const TensorInfo& pt = vocab_tensor(ck, kVocabPieces, DType::U8, -1);
  const auto pieces = ck.bytes(pt);
  Vocabulary v;
  v.model = model->second;
  v.tokens.reserve(lengths.size());
  uint64_t off = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const auto len = static_cast<uint64_t>(lengths[i]);
    if (lengths[i] < 0 || len > pieces.size() - off)
      fail(where, "vocabulary token {} has length {}, past the end of {}", i, lengths[i], kVocabPieces);
    v.tokens.emplace_back(reinterpret_cast<const char*>(pieces.data()) + off, len);
    off += len;
  }
  if (off != pieces.size()) fail(where, "{} holds {} bytes after the last token", kVocabPieces, pieces.size() - off);
  v.scores = values<float>(ck, vocab_tensor(ck, kVocabScores, DType::F32, V));
  if (ck.find(kVocabTypes)) v.token_types = values<int32_t>(ck, vocab_tensor(ck, kVocabTypes, DType::I32, V));
  return v;
}

}  // namespace ctscope::ctfile
