#include "ctfile/tokenizer_model_file.hpp"

#include <cctype>
#include <cstring>
#include <set>
#include <vector>

#include "util/error.hpp"

namespace ctscope::ctfile {

namespace {

// SentencePiece's piece types (sentencepiece_model.proto), which GGUF's
// tokenizer.ggml.token_type copies.
enum PieceType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Protocol buffers wire format: only what ModelProto needs.
class Proto {
 public:
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_ += static_cast<char>((v & 0x7F) | 0x80);
    out_ += static_cast<char>(v);
  }
  // int32 fields: a negative value is its 64-bit two's complement (10 bytes).
  void int_field(int field, int64_t v) {
    key(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void bytes_field(int field, const std::string& s) {
    key(field, 2);
    varint(s.size());
    out_ += s;
  }
  void float_field(int field, float f) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);  // little-endian, as the wire format is
    out_.append(b, 4);
  }
  const std::string& bytes() const { return out_; }

 private:
  void key(int field, int wire) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
  std::string out_;
};

bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' && std::isxdigit(static_cast<unsigned char>(p[3])) &&
         std::isxdigit(static_cast<unsigned char>(p[4]));
}

// llama2.c spells SentencePiece's U+2581 as a plain space.
std::string with_sentencepiece_spaces(const std::string& piece) {
  std::string p;
  for (char c : piece) p += c == ' ' ? std::string("\u2581") : std::string(1, c);
  return p;
}

std::vector<int32_t> piece_types(const Vocabulary& v, int64_t bos_id, int64_t eos_id, const std::string& where) {
  if (!v.token_types.empty()) {
    for (size_t i = 0; i < v.token_types.size(); ++i)
      if (v.token_types[i] < kNormal || v.token_types[i] > kByte)
        fail(where, "token {} has type {}, which SentencePiece does not know: no tokenizer.model", i, v.token_types[i]);
    return v.token_types;
  }
  std::vector<int32_t> t(v.tokens.size(), kNormal);
  size_t unk = 0;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i] == "<unk>") unk = i;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (i == unk) t[i] = kUnknown;
    else if (static_cast<int64_t>(i) == bos_id || static_cast<int64_t>(i) == eos_id) t[i] = kControl;
    else if (is_byte_piece(v.tokens[i])) t[i] = kByte;
  }
  return t;
}

}  // namespace

std::string sentencepiece_model_bytes(const Vocabulary& v, int64_t bos_id, int64_t eos_id, const std::string& where) {
  if (!v.model.empty() && v.model != "llama" && v.model != "llama2.c")
    fail(where, "the vocabulary is a '{}' tokenizer, not SentencePiece-style BPE: no tokenizer.model", v.model);
  if (v.tokens.empty() || v.scores.size() != v.tokens.size())
    fail(where, "the vocabulary has {} tokens and {} scores: no tokenizer.model", v.tokens.size(), v.scores.size());
  const std::vector<int32_t> types = piece_types(v, bos_id, eos_id, where);
  std::vector<std::string> pieces;
  for (const auto& t : v.tokens) pieces.push_back(v.model == "llama2.c" ? with_sentencepiece_spaces(t) : t);
  // SentencePiece refuses to load a model with an empty or repeated piece, or
  // without exactly one unknown token: say so here, not at load time.
  std::set<std::string> seen;
  int64_t unk = -1;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].empty()) fail(where, "token {} is empty: no tokenizer.model", i);
    if (!seen.insert(pieces[i]).second) fail(where, "token {} repeats an earlier piece: no tokenizer.model", i);
    if (types[i] == kUnknown) {
      if (unk >= 0) fail(where, "tokens {} and {} are both the unknown token: no tokenizer.model", unk, i);
      unk = static_cast<int64_t>(i);
    }
  }
  if (unk < 0) fail(where, "the vocabulary has no unknown token: no tokenizer.model");
  const auto V = static_cast<int64_t>(pieces.size());
  auto piece_at = [&](int64_t id) { return id >= 0 && id < V ? pieces[static_cast<size_t>(id)] : std::string(); };

  Proto model;
  bool has_bytes = false;
  for (size_t i = 0; i < pieces.size(); ++i) {
    Proto p;
    p.bytes_field(1, pieces[i]);
    p.float_field(2, v.scores[i]);
    p.int_field(3, types[i]);
    model.bytes_field(1, p.bytes());
    has_bytes = has_bytes || types[i] == kByte;
  }
  Proto trainer;
  trainer.int_field(3, 2);  // model_type BPE
  trainer.int_field(4, V);  // vocab_size
  if (has_bytes) trainer.int_field(35, 1);  // byte_fallback
  trainer.int_field(40, unk);
  trainer.int_field(41, bos_id);
  trainer.int_field(42, eos_id);
  trainer.int_field(43, -1);  // pad_id: none
  // The processor finds bos/eos by these pieces (its defaults "<s>", "</s>"
  // are not llama2.c's "\n<s>\n").
  trainer.bytes_field(45, piece_at(unk));
  if (!piece_at(bos_id).empty()) trainer.bytes_field(46, piece_at(bos_id));
  if (!piece_at(eos_id).empty()) trainer.bytes_field(47, piece_at(eos_id));
  model.bytes_field(2, trainer.bytes());
  Proto normalizer;
  normalizer.bytes_field(1, "identity");
  normalizer.int_field(3, 1);  // add_dummy_prefix
  normalizer.int_field(4, 0);  // remove_extra_whitespaces: off, as in Llama 2
  normalizer.int_field(5, 1);  // escape_whitespaces
  model.bytes_field(3, normalizer.bytes());
  return model.bytes();
}

}  // namespace ctscope::ctfile
