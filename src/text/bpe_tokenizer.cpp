#include "text/bpe_tokenizer.hpp"

#include <queue>

#include "io/checkpoint.hpp"
#include "io/llama2c_tokenizer_file.hpp"
#include "util/error.hpp"

namespace ctscope {

BpeTokenizer::BpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::string space,
                           int32_t bos, int32_t eos)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), space_(std::move(space)), bos_(bos), eos_(eos) {
  index_.reserve(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i) index_.emplace(pieces_[i], static_cast<int32_t>(i));
}

int32_t BpeTokenizer::lookup(const std::string& s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(bos_);
  const size_t first = ids.size();
  if (!text.empty()) {
    const int32_t prefix = lookup(space_);  // the dummy-prefix space
    if (prefix >= 0) ids.push_back(prefix);
  }
  // One token per UTF-8 codepoint (at most 4 bytes), bytes where it is missing.
  std::string cp;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) cp.clear();
    if (c == ' ') cp += space_;
    else cp += static_cast<char>(c);
    const bool continues = i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
    if (continues && cp.size() < 4) continue;
    if (int32_t id = lookup(cp); id >= 0) {
      ids.push_back(id);
    } else {
      for (unsigned char b : cp) {
        const int32_t bid = lookup(fmt::format("<0x{:02X}>", b));
        ids.push_back(bid >= 0 ? bid : 0);  // no byte token at all: <unk>
      }
    }
    cp.clear();
  }
  // Merge the best-scoring adjacent pair until none is in the vocabulary; ties
  // go to the leftmost pair (strict >), exactly as run.c's scan - but with a
  // priority queue over a linked list, so long texts are O(n log n), not O(n^2).
  const size_t n = ids.size() - first;
  if (n < 2) return ids;
  struct Sym {
    int32_t id;
    int64_t prev, next;  // -1: none
  };
  struct Pair {
    float score;
    int64_t left, right;
    int32_t left_id, right_id, merged;
  };
  const auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::vector<Sym> sym(n);
  for (size_t i = 0; i < n; ++i)
    sym[i] = {ids[first + i], static_cast<int64_t>(i) - 1, i + 1 < n ? static_cast<int64_t>(i) + 1 : -1};
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> queue(worse);
  std::string buf;
  auto consider = [&](int64_t l, int64_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = sym[static_cast<size_t>(l)].id, b = sym[static_cast<size_t>(r)].id;
    buf = pieces_[static_cast<size_t>(a)];
    buf += pieces_[static_cast<size_t>(b)];
    const int32_t id = lookup(buf);
    if (id >= 0 && scores_[static_cast<size_t>(id)] > -1e10f) queue.push({scores_[static_cast<size_t>(id)], l, r, a, b, id});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1);
  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Sym& L = sym[static_cast<size_t>(p.left)];
    Sym& R = sym[static_cast<size_t>(p.right)];
    // Stale: one side was merged away or changed since this pair was queued.
    if (L.id < 0 || R.id < 0 || L.next != p.right || L.id != p.left_id || R.id != p.right_id) continue;
    L.id = p.merged;
    L.next = R.next;
    if (R.next >= 0) sym[static_cast<size_t>(R.next)].prev = p.left;
    R.id = -1;
    consider(L.prev, p.left);
    consider(p.left, L.next);
  }
  ids.resize(first);
  for (int64_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) ids.push_back(sym[static_cast<size_t>(i)].id);
  return ids;
}

std::string BpeTokenizer::decode(int32_t prev, int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) throw Error(fmt::format("token id {} out of range", id));
  std::string piece = pieces_[static_cast<size_t>(id)];
  if (space_ != " ") piece = with_plain_spaces(piece, space_);  // SentencePiece style: U+2581 stands for a space
  if (prev == bos_ && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  // "<0xXX>" is a raw byte.
  if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') {
    unsigned v = 0;
    bool ok = true;
    for (int k = 3; k < 5; ++k) {
      const char h = piece[static_cast<size_t>(k)];
      v *= 16;
      if (h >= '0' && h <= '9') v += static_cast<unsigned>(h - '0');
      else if (h >= 'A' && h <= 'F') v += static_cast<unsigned>(h - 'A' + 10);
      else if (h >= 'a' && h <= 'f') v += static_cast<unsigned>(h - 'a' + 10);
      else ok = false;
    }
    if (ok) return std::string(1, static_cast<char>(v));
  }
  return piece;
}

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::filesystem::path& file, int64_t vocab_size) {
  Vocabulary v = read_llama2c_tokenizer(file, vocab_size);
  return std::make_unique<BpeTokenizer>(std::move(v.tokens), std::move(v.scores), " ", 1, 2);
}

std::unique_ptr<Tokenizer> bpe_from_vocabulary(const Vocabulary& v, const std::string& where, int32_t bos,
                                               int32_t eos) {
  // "llama2.c": a tokenizer.bin carried in a .ct.safetensors (spaces are " ").
  if (!v.model.empty() && v.model != "llama" && v.model != "llama2.c")
    fail(where, "tokenizer model '{}' is not supported (only 'llama' SentencePiece-style BPE); pass --tokenizer",
         v.model);
  if (v.scores.size() != v.tokens.size())
    fail(where, "vocabulary has {} tokens but {} scores", v.tokens.size(), v.scores.size());
  return std::make_unique<BpeTokenizer>(v.tokens, v.scores, v.model == "llama2.c" ? " " : "\u2581", bos, eos);
}

}  // namespace ctscope
