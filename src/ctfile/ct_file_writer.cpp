#include "ctfile/ct_file_writer.hpp"

#include <nlohmann/json.hpp>

#include "ctfile/ct_format.hpp"
#include "ctfile/ct_reader.hpp"
#include "ctfile/ct_vocab.hpp"
#include "io/formats.hpp"
#include "io/safetensors_writer.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace ctscope::ctfile {

namespace {

using ct::BasisKind;

// Metadata must be valid UTF-8 (a safetensors header is JSON), and the reader
// finds tensors by these exact names: no replacement characters here.
std::string strict_json(const nlohmann::json& j, const Checkpoint& ck) {
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error&) {
    fail(ck.path.string(), "a tensor name is not valid UTF-8: it cannot be stored in a .ct.safetensors");
  }
}

// What the file holds: the header's tensor list and the metadata that lets a
// reader rebuild the source.
struct FilePlan {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// The vocabulary the file carries, with where it came from: the one the
// caller gives, else the source's own; none: {nullptr, ""}.
std::pair<const Vocabulary*, std::string> vocab_to_carry(const Checkpoint& ck, const CompressSettings& s) {
  if (s.vocab) return {&*s.vocab, s.vocab_source};
  if (ck.vocab && !ck.vocab->tokens.empty()) return {&*ck.vocab, ck.path.string()};
  return {nullptr, ""};
}

FilePlan plan_file(const Checkpoint& ck, const CompressSettings& s, const CtPieces& pieces,
                   const std::vector<int64_t>& universal, const VocabTensors* vocab) {
  FilePlan plan;
  nlohmann::json tensors = nlohmann::json::array();
  for (int64_t d : universal) {
    plan.entries.push_back({universal_name(d, "basis"), DType::F32, {s.K, d}});
    plan.entries.push_back({universal_name(d, "offset"), DType::F32, {d}});
  }
  for (const auto& t : ck.tensors) {
    nlohmann::json jt = {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}};
    if (!t.alias_of.empty()) {
      jt["alias_of"] = t.alias_of;
      jt["fitted"] = false;
    } else if (pieces.fitted(t)) {
      jt["fitted"] = true;
      plan.entries.push_back({amplitudes_name(t.name), DType::F32, {t.rows(), s.K}});
      if (s.basis == BasisKind::Svd) plan.entries.push_back({basis_tensor_name(t.name), DType::F32, {s.K, t.cols()}});
    } else {
      jt["fitted"] = false;
      plan.entries.push_back({t.name, pieces.unfitted_dtype(t), t.shape});
    }
    tensors.push_back(std::move(jt));
  }
  if (vocab)
    for (auto& e : vocab->entries()) plan.entries.push_back(std::move(e));
  nlohmann::json cfg = to_hf_config(ck.config, "float32");
  cfg[kRopeLayoutKey] = ck.config.rope == RopeLayout::HalfSplit ? "half_split" : "interleaved";
  plan.metadata = {
      {"format", kCtFormat},
      {"format_version", std::to_string(kCtFormatVersion)},
      {"basis", std::string(ct::basis_name(s.basis))},
      {"K", std::to_string(s.K)},
      {"seed", std::to_string(s.seed)},
      {"source_format", std::string(format_name(ck.format))},
      {"source_path", std::filesystem::absolute(ck.path).lexically_normal().string()},
      {"config", strict_json(cfg, ck)},
      {"tensors", strict_json(tensors, ck)},
      {"written_by", version_line()},  // which build made the file (reproducibility)
  };
  if (const auto [v, from] = vocab_to_carry(ck, s); v) {
    plan.metadata[kVocabModelKey] = v->model;
    plan.metadata[kVocabSourceKey] = std::filesystem::absolute(from).lexically_normal().string();
  }
  return plan;
}

void write_floats(SafetensorsWriter& w, const std::string& name, const std::vector<float>& v) {
  w.write(name, v.data(), v.size() * sizeof(float));
}

}  // namespace

void check_not_an_input(const std::filesystem::path& out, const Checkpoint& source) {
  std::vector<std::filesystem::path> inputs;
  for (const auto& f : source.files) inputs.emplace_back(f->path());
  ctscope::check_not_an_input(out, inputs);
}

CtFileWritten write_ct_file(const Checkpoint& ck, const CompressSettings& s, CtPieces& pieces,
                            const std::filesystem::path& out, const std::map<std::string, std::string>& extra_metadata) {
  check_not_an_input(out, ck);
  const std::vector<int64_t> universal = pieces.universal_row_lengths();
  std::optional<VocabTensors> vocab;
  const auto [carried, from] = vocab_to_carry(ck, s);
  if (carried) vocab.emplace(*carried, from);
  FilePlan plan = plan_file(ck, s, pieces, universal, vocab ? &*vocab : nullptr);
  for (const auto& [key, value] : extra_metadata)
    if (!plan.metadata.emplace(key, value).second)
      throw Error(fmt::format("metadata key '{}' belongs to the .ct.safetensors format", key));
  SafetensorsWriter w(out, plan.entries, plan.metadata);

  for (int64_t d : universal) {
    const CtPieces::Universal u = pieces.universal(d);
    write_floats(w, universal_name(d, "basis"), u.basis);
    write_floats(w, universal_name(d, "offset"), u.offset);
  }
  for (const auto& t : ck.tensors) {
    if (!t.alias_of.empty()) continue;
    if (pieces.fitted(t)) {
      const CtPieces::Fitted f = pieces.fit(t);
      write_floats(w, amplitudes_name(t.name), f.A);
      if (s.basis == BasisKind::Svd) write_floats(w, basis_tensor_name(t.name), f.basis);
    } else {
      const auto bytes = pieces.unfitted(t);
      w.write(t.name, bytes.data(), bytes.size());
    }
    ck.release(t);
  }
  CtFileWritten written;
  if (vocab) {
    vocab->write(w);
    written.vocab_tokens = carried->tokens.size();
  }
  // What ctscope writes, ctscope must read: the finished file is read back
  // before it takes the output's name.
  w.commit([&](const std::filesystem::path& file) {
    try {
      CtReader check(open_safetensors_file(file));
    } catch (const Error& e) {
      fail(out.string(), "not written: the file would not read back ({})", e.what());
    }
  });
  written.file_bytes = w.file_size();  // out may be a pipe (-o -, a FIFO): no size to ask for
  return written;
}

}  // namespace ctscope::ctfile
