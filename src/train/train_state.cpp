#include "train/train_state.hpp"

#include <charconv>
#include <cstring>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "io/formats.hpp"
#include "io/safetensors_writer.hpp"
#include "util/error.hpp"

namespace ctscope::train {
namespace {

const char* optimizer_name(OptimizerKind k) { return k == OptimizerKind::Sgd ? "sgd" : "adamw"; }

// One tensor of the state: its name in the file and the values it holds.
struct StateTensor {
  std::string name;
  int64_t rows = 0, cols = 0;
  size_t param = 0;  // index into params()
  enum class Kind { Value, FirstMoment, SecondMoment } kind = Kind::Value;
};

// The tensors a state of (params, opt) holds, in file order: every trainable
// parameter, each followed by its Adam moments when the optimizer has them.
std::vector<StateTensor> state_tensors(const ParameterSet<float>& params, OptimizerKind optimizer) {
  std::vector<StateTensor> out;
  const auto& ps = params.params();
  for (size_t i = 0; i < ps.size(); ++i) {
    const auto& p = ps[i];
    if (!p.trainable) continue;
    out.push_back({"param." + p.name, p.rows, p.cols, i, StateTensor::Kind::Value});
    if (optimizer != OptimizerKind::AdamW) continue;
    out.push_back({"adam_m." + p.name, p.rows, p.cols, i, StateTensor::Kind::FirstMoment});
    out.push_back({"adam_v." + p.name, p.rows, p.cols, i, StateTensor::Kind::SecondMoment});
  }
  return out;
}

template <class Params, class Opt>
auto& values_of(const StateTensor& t, Params& params, Opt& opt) {
  switch (t.kind) {
    case StateTensor::Kind::FirstMoment: return opt.first_moments()[t.param];
    case StateTensor::Kind::SecondMoment: return opt.second_moments()[t.param];
    case StateTensor::Kind::Value: break;
  }
  return params.params()[t.param].value;
}

int64_t whole_number(const std::string& file, const std::map<std::string, std::string>& meta, const char* key) {
  const auto it = meta.find(key);
  if (it == meta.end()) fail(file, "training state without '{}' in its metadata", key);
  int64_t v = -1;
  const char *b = it->second.data(), *e = b + it->second.size();
  const auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || v < 0) fail(file, "training state metadata '{}' = '{}' is not a whole number", key, it->second);
  return v;
}

std::vector<std::string> log_lines(const std::string& file, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    fail(file, "training state metadata 'log' is not valid JSON");
  }
  std::vector<std::string> out;
  if (!j.is_array()) fail(file, "training state metadata 'log' is not a list of lines");
  for (const auto& line : j) {
    if (!line.is_string()) fail(file, "training state metadata 'log' is not a list of lines");
    out.push_back(line.get<std::string>());
  }
  return out;
}

TrainStateHeader header_of(const Checkpoint& ck, const std::string& fingerprint) {
  const std::string file = ck.path.string();
  const auto& meta = ck.metadata;
  const auto get = [&](const char* key) {
    const auto it = meta.find(key);
    if (it == meta.end()) fail(file, "training state without '{}' in its metadata", key);
    return it->second;
  };
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kTrainStateFormat)
    fail(file, "not a training state (a safetensors file without format '{}' in its metadata)", kTrainStateFormat);
  if (const int64_t v = whole_number(file, meta, "version"); v != kTrainStateVersion)
    fail(file, "training state version {}; this ctscope reads version {}", v, kTrainStateVersion);
  TrainStateHeader h;
  h.fingerprint = get("fingerprint");
  if (h.fingerprint != fingerprint)
    fail(file, "a training state of another run (state: {}; this run: {}) — start without --resume or use the same settings",
         h.fingerprint, fingerprint);
  h.step = whole_number(file, meta, "step");
  const auto kind = optimizer_from_name(get("optimizer"));
  if (!kind) fail(file, "training state of an unknown optimizer '{}'", get("optimizer"));
  h.optimizer = *kind;
  h.optimizer_t = whole_number(file, meta, "optimizer_t");
  h.log = log_lines(file, get("log"));
  return h;
}

std::string shape_text(int64_t rows, int64_t cols) { return fmt::format("[{}, {}]", rows, cols); }

// Every tensor the state must hold, as F32 of its shape, and nothing else.
void check_tensors(const Checkpoint& ck, const std::vector<StateTensor>& want) {
  const std::string file = ck.path.string();
  std::set<std::string> expected;
  for (const auto& w : want) {
    expected.insert(w.name);
    const TensorInfo* t = ck.find(w.name);
    if (!t) fail(file, "training state without '{}' (a parameter this run trains)", w.name);
    if (t->dtype != DType::F32) fail(file, "'{}' is {}; a training state holds F32", w.name, dtype_name(t->dtype));
    if (t->shape != std::vector<int64_t>{w.rows, w.cols}) {
      std::string shape = "[";
      for (size_t i = 0; i < t->shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t->shape[i]);
      fail(file, "'{}' is {} in the state but {} in this run", w.name, shape + "]", shape_text(w.rows, w.cols));
    }
  }
  for (const auto& t : ck.tensors)
    if (!expected.count(t.name)) fail(file, "training state holds '{}', which this run does not train", t.name);
}

}  // namespace

void save_train_state(const std::filesystem::path& file, const ParameterSet<float>& params,
                      const Optimizer<float>& opt, int64_t step, const std::string& fingerprint,
                      const std::vector<std::string>& log) {
  const OptimizerKind kind = opt.settings().kind;
  const std::vector<StateTensor> tensors = state_tensors(params, kind);
  std::vector<SafetensorsEntry> entries;
  for (const auto& t : tensors) entries.push_back({t.name, DType::F32, {t.rows, t.cols}});
  const std::map<std::string, std::string> meta = {
      {"format", kTrainStateFormat},
      {"version", std::to_string(kTrainStateVersion)},
      {"fingerprint", fingerprint},
      {"step", std::to_string(step)},
      {"optimizer", optimizer_name(kind)},
      {"optimizer_t", std::to_string(opt.steps())},
      {"log", nlohmann::json(log).dump()},
  };
  SafetensorsWriter out(file, std::move(entries), meta);
  for (const auto& t : tensors) {
    const std::vector<float>& v = values_of(t, params, opt);
    out.write(t.name, v.data(), v.size() * sizeof(float));
  }
  out.commit();
}

TrainStateHeader read_train_state_header(const std::filesystem::path& file, const std::string& fingerprint) {
  return header_of(open_safetensors_file(file), fingerprint);
}

TrainStateHeader load_train_state(const std::filesystem::path& file, const std::string& fingerprint,
                                  ParameterSet<float>& params, Optimizer<float>& opt) {
  const Checkpoint ck = open_safetensors_file(file);
  const TrainStateHeader h = header_of(ck, fingerprint);
  const OptimizerKind kind = opt.settings().kind;
  if (h.optimizer != kind)
    fail(file.string(), "a training state of an {} run; this run uses {}", optimizer_name(h.optimizer),
         optimizer_name(kind));
  const std::vector<StateTensor> tensors = state_tensors(params, kind);
  check_tensors(ck, tensors);
  // Everything checked: from here on nothing can fail.
  for (const auto& t : tensors) {
    std::vector<float>& v = values_of(t, params, opt);
    const auto bytes = ck.bytes(*ck.find(t.name));
    v.resize(bytes.size() / sizeof(float));  // the moments of a fresh AdamW already have this size
    std::memcpy(v.data(), bytes.data(), bytes.size());
  }
  opt.restore_steps(h.optimizer_t);
  return h;
}

}  // namespace ctscope::train
