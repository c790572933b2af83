#include "text/hf_tokenizer_json.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "text/byte_level.hpp"
#include "text/ranked_bpe.hpp"
#include "text/split_regex.hpp"
#include "text/unicode_classes.hpp"
#include "util/error.hpp"
#include "util/resource_limits.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {
namespace {

using json = nlohmann::json;

constexpr auto kMaxId = static_cast<int64_t>(limits::kMaxVocab);  // ids index a table: bound it

// --- reading the JSON with a type check at every step -------------------------

struct Reader {
  std::string file;

  [[noreturn]] void bad(const std::string& key, const std::string& what) const { fail(file, "{}: {}", key, what); }
  const json& member(const json& obj, const std::string& key, const std::string& path) const {
    const auto it = obj.find(key);
    if (it == obj.end()) bad(path + "." + key, "missing");
    return *it;
  }
  const json* optional(const json& obj, const std::string& key) const {
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(const json& v, const std::string& path) const {
    if (!v.is_string()) bad(path, "expected a string");
    return v.get<std::string>();
  }
  bool flag(const json& obj, const std::string& key, const std::string& path, bool dflt) const {
    const json* v = optional(obj, key);
    if (!v) return dflt;
    if (!v->is_boolean()) bad(path + "." + key, "expected true or false");
    return v->get<bool>();
  }
  int32_t id(const json& v, const std::string& path) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxId)
      bad(path, fmt::format("expected a token id (0 .. {})", kMaxId - 1));
    return static_cast<int32_t>(v.get<int64_t>());
  }
  std::string type(const json& v, const std::string& path) const {
    if (!v.is_object()) bad(path, "expected an object");
    return str(member(v, "type", path), path + ".type");
  }
  const json& array(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_array()) bad(path + "." + key, "expected an array");
    return v;
  }
};

// --- the pipeline steps this reader implements --------------------------------

struct Prepend { std::string text; };
struct Replace { std::string from, to; };
struct Nfc {};
using NormalizerStep = std::variant<Prepend, Replace, Nfc>;

enum class PrependScheme { Always, First, Never };
struct Metaspace { std::string replacement; PrependScheme scheme; bool split; };
struct ByteLevel { bool add_prefix_space, use_regex; };
struct Split { SplitRegex regex; };
struct Digits { bool individual; };
using PreStep = std::variant<Metaspace, ByteLevel, Split, Digits>;

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  for (size_t p = 0;;) {
    const size_t q = s.find(from, p);
    out.append(s.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
    if (q == std::string_view::npos) return out;
    out.append(to);
    p = q + from.size();
  }
}

struct AddedToken {
  int32_t id;
  std::string content;
  bool special, lstrip, rstrip;
};

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(const std::filesystem::path& file, int32_t bos, int32_t eos);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(int32_t prev, int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }

 private:
  void read_normalizer(const json& n, const std::string& path);
  void read_pre_tokenizer(const json& p, const std::string& path);
  void read_post_processor(const json& p, const std::string& path);
  void encode_segment(std::string_view text, bool at_start, std::vector<int32_t>& out) const;

  Reader r_;
  std::vector<NormalizerStep> normalizer_;
  std::vector<PreStep> pre_;
  std::optional<RankedBpe> bpe_;
  std::vector<AddedToken> added_;
  std::array<bool, 256> added_first_{};  // first bytes of added tokens: most positions start none
  std::vector<std::string> pieces_;  // id -> token as the vocabulary spells it ("" for a hole)
  std::vector<char> special_;        // id -> 1 for a special added token (decodes to nothing)
  bool byte_level_ = false, strip_first_space_ = false, adds_bos_ = false;
  int32_t bos_, eos_;
};

HfTokenizer::HfTokenizer(const std::filesystem::path& file, int32_t bos, int32_t eos)
    : r_{file.string()}, bos_(bos), eos_(eos) {
  const auto mapped = MappedFile::open(r_.file);  // a regular file, or one line why
  limits::check(r_.file, "file size", mapped->size(), limits::kMaxTokenizerJsonBytes, "bytes of a tokenizer.json");
  json j;
  try {
    j = json::parse(mapped->text());
  } catch (const json::exception& e) {
    fail(r_.file, "not valid JSON: {}", e.what());
  }
  if (!j.is_object()) fail(r_.file, "not a tokenizer.json (expected a JSON object)");

  // model: BPE with a vocabulary and ranked merges.
  const json& model = r_.member(j, "model", "");
  if (!model.is_object()) r_.bad("model", "expected an object");
  if (const json* t = r_.optional(model, "type"); t && r_.str(*t, "model.type") != "BPE")
    r_.bad("model.type", fmt::format("'{}' is not supported (only BPE, as the Llama family uses)", t->get<std::string>()));
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json* v = r_.optional(model, k); v && !(v->is_string() && v->get<std::string>().empty()))
      r_.bad(std::string("model.") + k, "is not supported (no Llama-family tokenizer sets it)");
  if (const json* d = r_.optional(model, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0))
    r_.bad("model.dropout", "BPE dropout is not supported (it makes tokenization random)");
  const json& vocab = r_.member(model, "vocab", "model");
  if (!vocab.is_object()) r_.bad("model.vocab", "expected an object of token: id");
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  int32_t max_id = -1;
  for (const auto& [tok, v] : vocab.items()) {
    const int32_t id = r_.id(v, "model.vocab[\"" + tok + "\"]");
    ids.emplace(tok, id);
    max_id = std::max(max_id, id);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  const json& mj = r_.array(model, "merges", "model");
  merges.reserve(mj.size());
  for (size_t i = 0; i < mj.size(); ++i) {
    const std::string path = fmt::format("model.merges[{}]", i);
    if (mj[i].is_string()) {  // "a b"
      const std::string s = mj[i].get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) r_.bad(path, "expected \"a b\"");
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (mj[i].is_array() && mj[i].size() == 2) {  // ["a", "b"]
      merges.emplace_back(r_.str(mj[i][0], path + "[0]"), r_.str(mj[i][1], path + "[1]"));
    } else {
      r_.bad(path, "expected \"a b\" or [\"a\", \"b\"]");
    }
  }
  RankedBpe::Options opt;
  opt.byte_fallback = r_.flag(model, "byte_fallback", "model", false);
  opt.fuse_unk = r_.flag(model, "fuse_unk", "model", false);
  opt.ignore_merges = r_.flag(model, "ignore_merges", "model", false);
  if (const json* u = r_.optional(model, "unk_token")) {
    const std::string unk = r_.str(*u, "model.unk_token");
    const auto it = ids.find(unk);
    if (it == ids.end()) r_.bad("model.unk_token", "'" + unk + "' is not in model.vocab");
    opt.unk = it->second;
  }

  // added_tokens: matched whole in the text.
  if (const json* a = r_.optional(j, "added_tokens")) {
    if (!a->is_array()) r_.bad("added_tokens", "expected an array");
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string path = fmt::format("added_tokens[{}]", i);
      const json& t = (*a)[i];
      if (!t.is_object()) r_.bad(path, "expected an object");
      AddedToken at{r_.id(r_.member(t, "id", path), path + ".id"), r_.str(r_.member(t, "content", path), path + ".content"),
                    r_.flag(t, "special", path, false), r_.flag(t, "lstrip", path, false), r_.flag(t, "rstrip", path, false)};
      if (at.content.empty()) r_.bad(path + ".content", "empty");
      max_id = std::max(max_id, at.id);
      added_.push_back(std::move(at));
    }
  }
  // Longest first, so "<|end|>" never hides "<|end_of_text|>" at the same place.
  std::stable_sort(added_.begin(), added_.end(),
                   [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
  for (const auto& t : added_) added_first_[static_cast<unsigned char>(t.content[0])] = true;

  pieces_.assign(static_cast<size_t>(max_id + 1), std::string());
  special_.assign(pieces_.size(), 0);
  for (const auto& [tok, id] : ids) {
    if (!pieces_[static_cast<size_t>(id)].empty())
      fail(r_.file, "model.vocab: id {} is given to both '{}' and '{}'", id, pieces_[static_cast<size_t>(id)], tok);
    pieces_[static_cast<size_t>(id)] = tok;
  }
  for (const auto& t : added_) {
    pieces_[static_cast<size_t>(t.id)] = t.content;
    special_[static_cast<size_t>(t.id)] = t.special;
  }
  bpe_.emplace(std::move(ids), merges, opt, r_.file);

  if (const json* n = r_.optional(j, "normalizer")) read_normalizer(*n, "normalizer");
  if (const json* p = r_.optional(j, "pre_tokenizer")) read_pre_tokenizer(*p, "pre_tokenizer");
  if (const json* p = r_.optional(j, "post_processor")) read_post_processor(*p, "post_processor");
  for (const auto& s : pre_) {
    if (std::holds_alternative<ByteLevel>(s)) byte_level_ = true;
    if (const auto* m = std::get_if<Metaspace>(&s); m && m->scheme != PrependScheme::Never) strip_first_space_ = true;
  }
  for (const auto& s : normalizer_)
    if (const auto* p = std::get_if<Prepend>(&s); p && p->text == "\u2581") strip_first_space_ = true;
  if (bos_ < 0 || bos_ >= static_cast<int32_t>(pieces_.size())) bos_ = -1;
}

void HfTokenizer::read_normalizer(const json& n, const std::string& path) {
  const std::string t = r_.type(n, path);
  if (t == "Sequence") {
    const json& list = r_.array(n, "normalizers", path);
    for (size_t i = 0; i < list.size(); ++i) read_normalizer(list[i], fmt::format("{}.normalizers[{}]", path, i));
  } else if (t == "Prepend") {
    normalizer_.push_back(Prepend{r_.str(r_.member(n, "prepend", path), path + ".prepend")});
  } else if (t == "Replace") {
    const json& pat = r_.member(n, "pattern", path);
    if (!pat.is_object() || !pat.contains("String"))
      r_.bad(path + ".pattern", "only a String pattern is supported (not a Regex)");
    normalizer_.push_back(Replace{r_.str(pat["String"], path + ".pattern.String"),
                                  r_.str(r_.member(n, "content", path), path + ".content")});
  } else if (t == "NFC") {
    normalizer_.push_back(Nfc{});
  } else {
    r_.bad(path + ".type", "normalizer '" + t + "' is not supported (Sequence, Prepend, Replace, NFC are)");
  }
}

void HfTokenizer::read_pre_tokenizer(const json& p, const std::string& path) {
  const std::string t = r_.type(p, path);
  if (t == "Sequence") {
    const json& list = r_.array(p, "pretokenizers", path);
    for (size_t i = 0; i < list.size(); ++i) read_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", path, i));
  } else if (t == "Metaspace") {
    Metaspace m{r_.str(r_.member(p, "replacement", path), path + ".replacement"), PrependScheme::Always,
                r_.flag(p, "split", path, true)};
    if (m.replacement.empty()) r_.bad(path + ".replacement", "empty");
    if (const json* s = r_.optional(p, "prepend_scheme")) {
      const std::string v = r_.str(*s, path + ".prepend_scheme");
      if (v == "always") m.scheme = PrependScheme::Always;
      else if (v == "first") m.scheme = PrependScheme::First;
      else if (v == "never") m.scheme = PrependScheme::Never;
      else r_.bad(path + ".prepend_scheme", "'" + v + "' (expected always, first or never)");
    } else if (!r_.flag(p, "add_prefix_space", path, true)) {
      m.scheme = PrependScheme::Never;
    }
    pre_.push_back(m);
  } else if (t == "ByteLevel") {
    pre_.push_back(ByteLevel{r_.flag(p, "add_prefix_space", path, false), r_.flag(p, "use_regex", path, true)});
  } else if (t == "Split") {
    const json& pat = r_.member(p, "pattern", path);
    if (!pat.is_object() || !pat.contains("Regex")) r_.bad(path + ".pattern", "only a Regex pattern is supported");
    const std::string re = r_.str(pat["Regex"], path + ".pattern.Regex");
    const auto known = known_split_regex(re);
    if (!known)
      r_.bad(path + ".pattern.Regex", fmt::format("'{:.60}' is not one of the split regexes ctscope implements "
                                                  "(GPT-2, Llama 3, Qwen2)", re));
    if (const json* b = r_.optional(p, "behavior"); b && r_.str(*b, path + ".behavior") != "Isolated")
      r_.bad(path + ".behavior", "only Isolated is supported");
    if (r_.flag(p, "invert", path, false)) r_.bad(path + ".invert", "only false is supported");
    pre_.push_back(Split{*known});
  } else if (t == "Digits") {
    pre_.push_back(Digits{r_.flag(p, "individual_digits", path, false)});
  } else {
    r_.bad(path + ".type", "pre-tokenizer '" + t + "' is not supported (Sequence, Metaspace, ByteLevel, Split, Digits are)");
  }
}

// TemplateProcessing's "single" template: does it begin with a special token (BOS)?
void HfTokenizer::read_post_processor(const json& p, const std::string& path) {
  const std::string t = r_.type(p, path);
  if (t == "Sequence") {
    const json& list = r_.array(p, "processors", path);
    for (size_t i = 0; i < list.size(); ++i) read_post_processor(list[i], fmt::format("{}.processors[{}]", path, i));
    return;
  }
  if (t != "TemplateProcessing") return;  // ByteLevel (offsets only) and others add no tokens we use
  const json& single = r_.array(p, "single", path);
  if (single.empty() || !single[0].is_object() || !single[0].contains("SpecialToken")) return;
  const json& st = single[0]["SpecialToken"];
  if (!st.is_object()) r_.bad(path + ".single[0].SpecialToken", "expected an object");
  const std::string name = r_.str(r_.member(st, "id", path + ".single[0].SpecialToken"), path + ".single[0].SpecialToken.id");
  const json& specials = r_.member(p, "special_tokens", path);
  if (!specials.is_object() || !specials.contains(name))
    r_.bad(path + ".special_tokens", "does not define '" + name + "', which the template begins with");
  const json& ids = r_.array(specials[name], "ids", path + ".special_tokens." + name);
  if (ids.size() != 1) r_.bad(path + ".special_tokens." + name + ".ids", "expected one id");
  bos_ = r_.id(ids[0], path + ".special_tokens." + name + ".ids[0]");
  if (bos_ >= static_cast<int32_t>(pieces_.size())) r_.bad(path + ".special_tokens." + name, "id is not a token");
  adds_bos_ = true;
}

// Normalize, pre-tokenize and BPE one stretch of text between added tokens.
void HfTokenizer::encode_segment(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  std::string s(text);
  for (const auto& step : normalizer_) {
    if (const auto* p = std::get_if<Prepend>(&step)) {
      if (!s.empty()) s = p->text + s;
    } else if (const auto* r = std::get_if<Replace>(&step)) {
      s = replace_all(s, r->from, r->to);
    } else {  // NFC: text without code points NFC could change is NFC already
      for (size_t i = 0; i < s.size();) {
        const auto c = unicode::next(s, i);
        if (c.cp >= 0x80 && !unicode::nfc_stable(c.cp))
          fail(r_.file, "normalizer NFC: the text has U+{:04X}, which NFC may change, and ctscope does not "
               "implement NFC (normalize the text first, e.g. with Python's unicodedata.normalize)", c.cp);
        i += c.len;
      }
    }
  }
  std::vector<std::string> pieces{std::move(s)};
  for (const auto& step : pre_) {
    std::vector<std::string> next;
    for (size_t k = 0; k < pieces.size(); ++k) {
      const std::string& piece = pieces[k];
      if (const auto* m = std::get_if<Metaspace>(&step)) {
        std::string t = replace_all(piece, " ", m->replacement);
        const bool prepend = m->scheme == PrependScheme::Always || (m->scheme == PrependScheme::First && at_start && k == 0);
        if (prepend && !t.empty() && t.compare(0, m->replacement.size(), m->replacement) != 0) t = m->replacement + t;
        if (!m->split) {
          next.push_back(std::move(t));
          continue;
        }
        // Each replacement character begins a new piece.
        size_t from = 0;
        for (size_t q = t.find(m->replacement, 1); q != std::string::npos; q = t.find(m->replacement, q + 1)) {
          next.push_back(t.substr(from, q - from));
          from = q;
        }
        next.push_back(t.substr(from));
      } else if (const auto* b = std::get_if<ByteLevel>(&step)) {
        std::string t = b->add_prefix_space && (piece.empty() || piece[0] != ' ') ? " " + piece : piece;
        if (b->use_regex) {
          for (auto part : split_by(t, SplitRegex::Gpt2)) next.push_back(bytes_to_byte_level(part));
        } else {
          next.push_back(bytes_to_byte_level(t));
        }
      } else if (const auto* sp = std::get_if<Split>(&step)) {
        for (auto part : split_by(piece, sp->regex)) next.emplace_back(part);
      } else {
        for (auto part : split_digits(piece, std::get<Digits>(step).individual)) next.emplace_back(part);
      }
    }
    pieces = std::move(next);
  }
  for (const auto& w : pieces) bpe_->encode(w, out);
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && adds_bos_) out.push_back(bos_);
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t seg = 0;  // start of the text not yet encoded
  for (size_t i = 0; i < text.size();) {
    const AddedToken* hit = nullptr;
    if (added_first_[static_cast<unsigned char>(text[i])])
      for (const auto& t : added_)
        if (text.compare(i, t.content.size(), t.content) == 0) {
          hit = &t;
          break;
        }
    if (!hit) {
      ++i;
      continue;
    }
    size_t seg_end = i, after = i + hit->content.size();
    if (hit->lstrip)
      while (seg_end > seg && is_space(text[seg_end - 1])) --seg_end;
    if (hit->rstrip)
      while (after < text.size() && is_space(text[after])) ++after;
    encode_segment(text.substr(seg, seg_end - seg), seg == 0, out);
    out.push_back(hit->id);
    seg = i = after;
  }
  encode_segment(text.substr(seg), seg == 0, out);
  return out;
}

std::string HfTokenizer::decode(int32_t prev, int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return "";  // padding rows beyond the vocabulary
  if (special_[static_cast<size_t>(id)]) return "";
  const std::string& piece = pieces_[static_cast<size_t>(id)];
  if (byte_level_) {
    auto bytes = byte_level_to_bytes(piece);
    return bytes ? *bytes : piece;  // an added token spelled in plain text
  }
  if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') {
    const auto hex = [](char h) {
      return h >= '0' && h <= '9' ? h - '0' : h >= 'A' && h <= 'F' ? h - 'A' + 10 : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
    };
    const int hi = hex(piece[3]), lo = hex(piece[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  std::string out = with_plain_spaces(piece);
  const bool first = prev < 0 || (prev == bos_ && adds_bos_);
  if (strip_first_space_ && first && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::filesystem::path& file, int32_t bos, int32_t eos) {
  return std::make_unique<HfTokenizer>(file, bos, eos);
}

}  // namespace ctscope
