#include "ct/matrix_record_codec.hpp"

#include <bit>
#include <cstring>
#include <type_traits>

#include "util/error.hpp"

namespace ctscope::ct {

static_assert(std::endian::native == std::endian::little, "records are written in the host's (little-endian) order");

namespace {

class Writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_arithmetic_v<T>);
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void put_bool(bool v) { put<uint8_t>(v ? 1 : 0); }
  template <class E>
  void put_enum(E e) { put<int32_t>(static_cast<int32_t>(e)); }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
  T get() {
    static_assert(std::is_arithmetic_v<T>);
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  bool get_bool() {
    const auto v = get<uint8_t>();
    if (v > 1) throw Error("matrix record: a flag is neither 0 nor 1");
    return v == 1;
  }
  template <class E>
  E get_enum(E last) {
    const auto v = get<int32_t>();
    if (v < 0 || v > static_cast<int32_t>(last)) throw Error(fmt::format("matrix record: enum value {} out of range", v));
    return static_cast<E>(v);
  }
  std::string get_string() {
    const size_t n = get_count(1);
    return std::string(take(n), n);
  }
  // A count of items of item_bytes each that must fit in what is left.
  size_t get_count(size_t item_bytes) {
    const auto n = get<uint64_t>();
    if (n > (in_.size() - pos_) / item_bytes) throw Error("matrix record: a length runs past the end");
    count_ = static_cast<size_t>(n);
    return count_ * item_bytes;
  }
  size_t count() const { return count_; }
  void expect_end() const {
    if (pos_ != in_.size()) throw Error(fmt::format("matrix record: {} bytes after the end", in_.size() - pos_));
  }

 private:
  const char* take(size_t n) {
    if (n > in_.size() - pos_) throw Error("matrix record: truncated");
    const char* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::string_view in_;
  size_t pos_ = 0, count_ = 0;
};

void put_fit(Writer& w, const FitResult& f) {
  w.put<int32_t>(f.K);
  w.put_enum(f.basis);
  w.put_bool(f.fitted);
  w.put_bool(f.trivial);
  for (double v : {f.sse, f.r2, f.r2_svd, f.r2_bound, f.r2_null, f.amplitude_pr, f.amplitude_pr_null}) w.put(v);
  w.put<int32_t>(f.amplitude_n95);
}

FitResult get_fit(Reader& r) {
  FitResult f;
  f.K = r.get<int32_t>();
  f.basis = r.get_enum(BasisKind::Universal);
  f.fitted = r.get_bool();
  f.trivial = r.get_bool();
  for (double* v : {&f.sse, &f.r2, &f.r2_svd, &f.r2_bound, &f.r2_null, &f.amplitude_pr, &f.amplitude_pr_null})
    *v = r.get<double>();
  f.amplitude_n95 = r.get<int32_t>();
  return f;
}

}  // namespace

std::string encode_record(const MatrixRecord& rec) {
  Writer w;
  w.put_string(rec.name);
  w.put<int32_t>(rec.layer);
  w.put_enum(rec.role);
  w.put_enum(rec.dtype);
  const MatrixResult& m = rec.result;
  w.put<int64_t>(m.n);
  w.put<int64_t>(m.d);
  for (double v : {m.ss, m.sum, m.sst, m.weight_pr, m.stable_rank, m.flops, m.gram_s, m.eigen_s, m.fit_s}) w.put(v);
  w.put<int32_t>(m.krylov_dim);
  w.put_string(m.error);
  w.put<uint64_t>(m.fits.size());
  for (const auto& f : m.fits) put_fit(w, f);
  w.put_bool(m.spectrum.has_value());
  if (m.spectrum) {
    w.put<int32_t>(m.spectrum->weight_n95);
    w.put(m.spectrum->weight_pr_sv);
    w.put<uint64_t>(m.spectrum->eigenvalues.size());
    for (double v : m.spectrum->eigenvalues) w.put(v);
  }
  return w.take();
}

MatrixRecord decode_record(std::string_view bytes) {
  Reader r(bytes);
  MatrixRecord rec;
  rec.name = r.get_string();
  rec.layer = r.get<int32_t>();
  rec.role = r.get_enum(Role::Other);
  rec.dtype = r.get_enum(DType::F8_E5M2);
  MatrixResult& m = rec.result;
  m.n = r.get<int64_t>();
  m.d = r.get<int64_t>();
  for (double* v : {&m.ss, &m.sum, &m.sst, &m.weight_pr, &m.stable_rank, &m.flops, &m.gram_s, &m.eigen_s, &m.fit_s})
    *v = r.get<double>();
  m.krylov_dim = r.get<int32_t>();
  m.error = r.get_string();
  r.get_count(1);  // every fit takes more than one byte: a bound, checked again as each is read
  m.fits.resize(r.count());
  for (auto& f : m.fits) f = get_fit(r);
  if (r.get_bool()) {
    Spectrum s;
    s.weight_n95 = r.get<int32_t>();
    s.weight_pr_sv = r.get<double>();
    r.get_count(sizeof(double));
    s.eigenvalues.resize(r.count());
    for (double& v : s.eigenvalues) v = r.get<double>();
    m.spectrum = std::move(s);
  }
  r.expect_end();
  return rec;
}

}  // namespace ctscope::ct
