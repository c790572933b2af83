#include "text/ranked_bpe.hpp"

#include <queue>

#include <fmt/format.h>

#include "text/unicode_classes.hpp"
#include "util/error.hpp"

namespace ctscope {
namespace {

uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

}  // namespace

RankedBpe::RankedBpe(std::unordered_map<std::string, int32_t> vocab,
                     const std::vector<std::pair<std::string, std::string>>& merges, Options opt,
                     const std::string& where)
    : vocab_(std::move(vocab)), opt_(opt) {
  merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const int32_t ia = id_of(a), ib = id_of(b), im = id_of(a + b);
    if (ia < 0 || ib < 0 || im < 0)
      fail(where, "model.merges[{}] ('{}' '{}') names a token that is not in model.vocab", r, a, b);
    merges_.emplace(key(ia, ib), Merge{static_cast<int32_t>(r), im});  // a repeated pair keeps its first rank
  }
}

int32_t RankedBpe::id_of(std::string_view s) const {
  const auto it = vocab_.find(std::string(s));
  return it == vocab_.end() ? -1 : it->second;
}

void RankedBpe::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (opt_.ignore_merges)
    if (const int32_t whole = id_of(word); whole >= 0) {
      out.push_back(whole);
      return;
    }
  // One symbol per character, as the model's vocabulary spells it.
  std::vector<int32_t> ids;
  bool unk_pending = false;
  auto flush_unk = [&] {
    if (unk_pending) ids.push_back(*opt_.unk);
    unk_pending = false;
  };
  for (size_t i = 0; i < word.size();) {
    const size_t len = unicode::next(word, i).len;
    const std::string_view ch = word.substr(i, len);
    i += len;
    if (const int32_t id = id_of(ch); id >= 0) {
      flush_unk();
      ids.push_back(id);
      continue;
    }
    if (opt_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (unsigned char b : ch)
        if (const int32_t id = id_of(fmt::format("<0x{:02X}>", b)); id >= 0) bytes.push_back(id);
      if (bytes.size() == ch.size()) {
        flush_unk();
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (!opt_.unk) continue;  // no <unk>: the character is dropped, as tokenizers does
    if (!opt_.fuse_unk) flush_unk();
    unk_pending = true;
  }
  flush_unk();

  // Lowest rank first, leftmost among equals, over a linked list of symbols.
  const size_t n = ids.size();
  std::vector<int64_t> next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
    prev[i] = static_cast<int64_t>(i) - 1;
  }
  struct Cand {
    int32_t rank;
    int64_t pos;
    int32_t left, right;
  };
  const auto later = [](const Cand& a, const Cand& b) { return a.rank > b.rank || (a.rank == b.rank && a.pos > b.pos); };
  std::priority_queue<Cand, std::vector<Cand>, decltype(later)> queue(later);
  auto consider = [&](int64_t l) {
    if (l < 0 || next[static_cast<size_t>(l)] < 0) return;
    const int32_t a = ids[static_cast<size_t>(l)], b = ids[static_cast<size_t>(next[static_cast<size_t>(l)])];
    if (const auto it = merges_.find(key(a, b)); it != merges_.end()) queue.push({it->second.rank, l, a, b});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int64_t>(i));
  std::vector<bool> gone(n, false);
  while (!queue.empty()) {
    const Cand c = queue.top();
    queue.pop();
    const auto l = static_cast<size_t>(c.pos);
    const int64_t r = next[l];
    // Stale: this symbol was merged away, or its pair changed since queued.
    if (gone[l] || r < 0 || ids[l] != c.left || ids[static_cast<size_t>(r)] != c.right) continue;
    ids[l] = merges_.at(key(c.left, c.right)).merged;
    gone[static_cast<size_t>(r)] = true;
    next[l] = next[static_cast<size_t>(r)];
    if (next[l] >= 0) prev[static_cast<size_t>(next[l])] = c.pos;
    consider(prev[l]);
    consider(c.pos);
  }
  for (size_t i = 0; i < n; ++i)
    if (!gone[i]) out.push_back(ids[i]);
}

}  // namespace ctscope
