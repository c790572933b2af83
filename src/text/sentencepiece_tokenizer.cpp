#include "text/sentencepiece_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace ctscope {
namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& file) {
    MappedFile::open(file.string());  // a regular file, or one line why (a FIFO would block Load)
    const auto st = sp_.Load(file.string());
    if (!st.ok()) fail(file.string(), "not a SentencePiece model: {}", st.ToString());
  }
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override {
    std::vector<int> ids;
    const auto st = sp_.Encode(std::string(text), &ids);
    if (!st.ok()) throw Error("sentencepiece: " + st.ToString());
    std::vector<int32_t> out;
    if (add_bos) out.push_back(bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }
  std::string decode(int32_t prev, int32_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) throw Error(fmt::format("token id {} out of range", id));
    const std::string& piece = sp_.IdToPiece(id);
    if (sp_.IsByte(id) && piece.size() == 6) {  // "<0xXX>"
      return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    if (sp_.IsControl(id)) return "";
    std::string out = with_plain_spaces(piece);
    if (prev == bos_id() && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  int32_t bos_id() const override { return sp_.bos_id() >= 0 ? sp_.bos_id() : 1; }
  int32_t eos_id() const override { return sp_.eos_id() >= 0 ? sp_.eos_id() : 2; }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::filesystem::path& file) {
  return std::make_unique<SentencePieceTokenizer>(file);
}

}  // namespace ctscope
