// The analysis across MPI ranks (distributed_analysis.hpp says how the work is
// divided). Every wait sleeps rather than spins: on a small machine the ranks
// share cores, and a rank spinning in MPI takes one from a rank computing.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "ct/analysis_journal.hpp"
#include "ct/matrix_record_codec.hpp"
#include "ct/stored_matrix.hpp"
#include "ct/universal_basis.hpp"
#include "dist/distributed_analysis.hpp"
#include "util/error.hpp"
#include "util/file_fingerprint.hpp"

namespace ctscope::dist {
namespace {

enum Tag : int { kReady = 1, kRecord = 2, kJob = 3, kShare = 4, kMessage = 5 };
constexpr int kRoot = 0;

void wait_quietly(MPI_Request& req) {
  for (int done = 0;;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

MPI_Status probe_quietly(int from, int tag) {
  MPI_Status st;
  for (int found = 0;;) {
    MPI_Iprobe(from, tag, MPI_COMM_WORLD, &found, &st);
    if (found) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int count_of(size_t n) {
  if (n > static_cast<size_t>(INT32_MAX)) throw Error(fmt::format("MPI: a message of {} items is too long", n));
  return static_cast<int>(n);
}

template <class T>
MPI_Datatype type_of() {
  if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  if constexpr (std::is_same_v<T, int64_t>) return MPI_INT64_T;
  if constexpr (std::is_same_v<T, uint64_t>) return MPI_UINT64_T;
  if constexpr (std::is_same_v<T, char>) return MPI_BYTE;
}

template <class T>
void send(const T* data, size_t n, int to, int tag) {
  MPI_Request r;
  MPI_Isend(data, count_of(n), type_of<T>(), to, tag, MPI_COMM_WORLD, &r);
  wait_quietly(r);
}

template <class T>
void recv(T* data, size_t n, int from, int tag) {
  MPI_Request r;
  MPI_Irecv(data, count_of(n), type_of<T>(), from, tag, MPI_COMM_WORLD, &r);
  wait_quietly(r);
}

// A message of unknown length; `from` may be MPI_ANY_SOURCE, the sender is returned.
std::string recv_text(int from, int tag, int* sender = nullptr) {
  const MPI_Status st = probe_quietly(from, tag);
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  std::string text(static_cast<size_t>(n), '\0');
  MPI_Recv(text.data(), n, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (sender) *sender = st.MPI_SOURCE;
  return text;
}

template <class T>
void broadcast(T* data, size_t n) {
  MPI_Request r;
  MPI_Ibcast(data, count_of(n), type_of<T>(), kRoot, MPI_COMM_WORLD, &r);
  wait_quietly(r);
}

// MPI for the life of the process (several models are analyzed one after
// another, each across every rank): initialized at the first run, finalized at
// exit after every rank got there; each run ends with every rank at a quiet
// barrier too (RunEnd). Rank 0 answers the others from a second thread while
// its main thread computes; the two never call MPI at the same time.
class Session {
 public:
  static const Session& get() {
    static const Session s;
    return s;
  }
  void barrier() const {
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    wait_quietly(r);
  }
  ~Session() {
    barrier();
    MPI_Finalize();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  int rank = 0, size = 1;
  bool threads_ok = false;

 private:
  Session() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    threads_ok = provided >= MPI_THREAD_SERIALIZED;
  }
};

// No rank starts the next run (the next model) while another is still in this one.
struct RunEnd {
  const Session& s;
  ~RunEnd() { s.barrier(); }
};

// Runs `step` on every rank; when it throws Error on any, all ranks stop
// here: rank 0 prints the first failing rank's line, and only then (a
// barrier: mpirun ends the job at the first non-zero exit, which could cut
// rank 0 short) every rank throws FailedElsewhere. So a failure is one line,
// and no rank waits forever.
template <class F>
void agree(const Session& s, F&& step) {
  std::string why;
  int64_t failed = 0;
  try {
    step();
  } catch (const Error& e) {
    why = e.what();
    failed = 1;
  }
  std::vector<int64_t> all(static_cast<size_t>(s.size));
  MPI_Request r;
  MPI_Iallgather(&failed, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, &r);
  wait_quietly(r);
  const auto first = std::find(all.begin(), all.end(), 1);
  if (first == all.end()) return;
  const int who = static_cast<int>(first - all.begin());
  if (who != kRoot && s.rank == who) send(why.data(), why.size(), kRoot, kMessage);
  if (s.rank == kRoot) {
    if (who != kRoot) why = fmt::format("rank {} of {}: {}", who, s.size, recv_text(who, kMessage));
    print_error_line(why.c_str());
  }
  MPI_Request done;
  MPI_Ibarrier(MPI_COMM_WORLD, &done);
  wait_quietly(done);
  throw FailedElsewhere();
}

// The pooled Grams of the universal bases: matrix i's share is computed by
// rank i mod N and added by rank 0 in matrix order, as one process adds them;
// then every rank gets the totals.
std::map<int64_t, ct::UniversalAccumulator> pool_universal(const Session& s, const Checkpoint& ck,
                                                           const ct::AnalysisPlan& plan) {
  const auto& matrices = plan.sel.matrices;
  std::map<int64_t, ct::UniversalAccumulator> pooled;
  for (size_t i = 0; i < matrices.size(); ++i) {
    const TensorInfo& t = *matrices[i];
    const int owner = static_cast<int>(i % static_cast<size_t>(s.size));
    if (s.rank != owner && s.rank != kRoot) continue;
    std::optional<ct::UniversalShare> share;
    if (s.rank == owner) {
      share = ct::universal_share(ct::stored_matrix(ck, t));
      ck.release(t);
    }
    if (owner != kRoot) {
      int64_t head[2] = {share ? 1 : 0, share ? share->rows : 0};
      if (s.rank == owner) {
        send(head, 2, kRoot, kShare);
        if (share) {
          send(share->cov.data(), share->cov.size(), kRoot, kShare);
          send(share->col_sum.data(), share->col_sum.size(), kRoot, kShare);
        }
        continue;
      }
      recv(head, 2, owner, kShare);
      if (head[0] == 1) {
        share = ct::UniversalShare{t.cols(), head[1], std::vector<double>(static_cast<size_t>(t.cols() * t.cols())),
                                   std::vector<double>(static_cast<size_t>(t.cols()))};
        recv(share->cov.data(), share->cov.size(), owner, kShare);
        recv(share->col_sum.data(), share->col_sum.size(), owner, kShare);
      }
    }
    auto& acc = pooled.try_emplace(t.cols(), t.cols()).first->second;
    if (share) acc.add(*share);
  }
  uint64_t n = pooled.size();
  broadcast(&n, 1);
  std::vector<const ct::UniversalAccumulator*> mine;  // rank 0's, in d order
  for (const auto& [d, acc] : pooled) mine.push_back(&acc);
  std::map<int64_t, ct::UniversalAccumulator> out;
  for (uint64_t k = 0; k < n; ++k) {
    ct::UniversalShare totals;
    if (s.rank == kRoot) totals = mine[k]->totals();
    int64_t head[2] = {totals.d, totals.rows};
    broadcast(head, 2);
    totals.d = head[0];
    totals.rows = head[1];
    totals.cov.resize(static_cast<size_t>(head[0] * head[0]));
    totals.col_sum.resize(static_cast<size_t>(head[0]));
    broadcast(totals.cov.data(), totals.cov.size());
    broadcast(totals.col_sum.data(), totals.col_sum.size());
    out.emplace(head[0], ct::UniversalAccumulator::from_totals(std::move(totals)));
  }
  return out;
}

// What a rank sends for job j: j, the bytes it streamed, then '\1' and the
// record, or '\0' and why it failed.
std::string job_message(uint64_t j, double bytes, bool ok, const std::string& body) {
  std::string m(sizeof j + sizeof bytes, '\0');
  std::memcpy(m.data(), &j, sizeof j);
  std::memcpy(m.data() + sizeof j, &bytes, sizeof bytes);
  m += ok ? '\1' : '\0';
  return m + body;
}

// Ranks but 0: ask for a job, compute it, send its record (which asks for the next), until told -1.
void work(const Checkpoint& ck, const ct::AnalysisPlan& plan, ct::BasisProvider& bases) {
  send("", 0, kRoot, kReady);
  for (;;) {
    int64_t j = -1;
    recv(&j, 1, kRoot, kJob);
    if (j < 0) return;
    const size_t i = plan.jobs.at(static_cast<size_t>(j));
    const double bytes = static_cast<double>(plan.sel.matrices[i]->nbytes);
    std::string m;
    try {
      m = job_message(static_cast<uint64_t>(j), bytes, true, ct::encode_record(ct::analyze_planned_matrix(ck, plan, bases, i)));
    } catch (const Error& e) {
      m = job_message(static_cast<uint64_t>(j), bytes, false, e.what());
    }
    send(m.data(), m.size(), kRoot, kRecord);
  }
}

// Rank 0's bookkeeping, shared by its computing thread and its serving thread.
class Ledger {
 public:
  Ledger(const ct::AnalysisPlan& plan, ct::AnalysisJournal* journal, const ProgressFn& progress)
      : plan_(plan), journal_(journal), progress_(progress), records_(plan.jobs.size()) {
    std::vector<size_t> pending;
    for (size_t j = 0; j < plan.jobs.size(); ++j) {
      if (journal_) records_[j] = journal_->find(plan.sel.matrices[plan.jobs[j]]->name);
      if (records_[j]) ++done_;
      else pending.push_back(j);
    }
    // The most expensive first (the Gram: n d min(n, d)), so that no rank is left with a big one at the end.
    auto cost = [&](size_t j) {
      const TensorInfo& t = *plan.sel.matrices[plan.jobs[j]];
      return static_cast<double>(t.rows()) * static_cast<double>(t.cols()) *
             static_cast<double>(std::min(t.rows(), t.cols()));
    };
    std::stable_sort(pending.begin(), pending.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
    queue_.assign(pending.begin(), pending.end());
  }
  std::optional<size_t> next() {
    std::lock_guard lock(mu_);
    if (!failure_.empty() || queue_.empty()) return std::nullopt;
    const size_t j = queue_.front();
    queue_.pop_front();
    return j;
  }
  void deliver(size_t j, ct::MatrixRecord rec, double bytes) {
    std::lock_guard lock(mu_);
    try {
      if (journal_) journal_->add(rec);
    } catch (const Error& e) {
      if (failure_.empty()) failure_ = e.what();
    }
    const std::string name = rec.name;
    records_.at(j) = std::move(rec);
    bytes_ += bytes;
    ++done_;
    if (progress_) progress_(done_, records_.size(), name, bytes_);
  }
  void fail(const std::string& why) {
    std::lock_guard lock(mu_);
    if (failure_.empty()) failure_ = why;
  }
  // After every thread is done: the records in the plan's order.
  std::vector<ct::MatrixRecord> take() {
    if (!failure_.empty()) throw Error(failure_);
    std::vector<ct::MatrixRecord> out;
    for (auto& r : records_) out.push_back(std::move(r.value()));
    return out;
  }
  double bytes() const { return bytes_; }

 private:
  const ct::AnalysisPlan& plan_;
  ct::AnalysisJournal* journal_;
  const ProgressFn& progress_;
  std::mutex mu_;
  std::vector<std::optional<ct::MatrixRecord>> records_;  // by position in plan.jobs
  std::deque<size_t> queue_;
  std::string failure_;
  size_t done_ = 0;
  double bytes_ = 0;
};

// Rank 0's second thread: hands out jobs and takes records until every other rank was told -1.
void serve(const Session& s, Ledger& ledger) {
  for (int active = s.size - 1; active > 0;) {
    const MPI_Status st = probe_quietly(MPI_ANY_SOURCE, MPI_ANY_TAG);
    const int from = st.MPI_SOURCE;
    const std::string m = recv_text(from, st.MPI_TAG);
    if (st.MPI_TAG == kRecord) {
      uint64_t j = 0;
      double bytes = 0;
      std::memcpy(&j, m.data(), sizeof j);
      std::memcpy(&bytes, m.data() + sizeof j, sizeof bytes);
      const std::string body = m.substr(sizeof j + sizeof bytes + 1);
      try {
        if (m[sizeof j + sizeof bytes] == '\1') ledger.deliver(static_cast<size_t>(j), ct::decode_record(body), bytes);
        else ledger.fail(fmt::format("rank {} of {}: {}", from, s.size, body));
      } catch (const Error& e) {
        ledger.fail(fmt::format("rank {} of {}: {}", from, s.size, e.what()));
      }
    }
    const std::optional<size_t> next = ledger.next();
    const int64_t job = next ? static_cast<int64_t>(*next) : -1;
    send(&job, 1, from, kJob);
    if (job < 0) --active;
  }
}

ct::ModelAnalysis lead(const Session& s, const Checkpoint& ck, ct::AnalysisPlan plan, ct::BasisProvider& bases,
                       ct::AnalysisJournal* journal, const ProgressFn& progress) {
  Ledger ledger(plan, journal, progress);
  std::thread server;
  if (s.size > 1) server = std::thread([&s, &ledger] {
      try {
        serve(s, ledger);
      } catch (const std::exception& e) {  // the thread must not end the process
        ledger.fail(e.what());
      }
    });
  for (auto j = ledger.next(); j; j = ledger.next()) {
    const TensorInfo& t = *plan.sel.matrices[plan.jobs[*j]];
    try {
      ledger.deliver(*j, ct::analyze_planned_matrix(ck, plan, bases, plan.jobs[*j]), static_cast<double>(t.nbytes));
    } catch (const Error& e) {
      ledger.fail(e.what());
    }
  }
  if (server.joinable()) server.join();
  std::vector<ct::MatrixRecord> records = ledger.take();
  const double bytes = ledger.bytes();
  return ct::finish_analysis(std::move(plan), std::move(records), bytes);
}

}  // namespace

std::optional<ct::ModelAnalysis> analyze_across_ranks(const DistributedRun& run) {
  const Session& s = Session::get();
  const RunEnd end{s};
  std::optional<Checkpoint> ck;
  std::optional<ct::AnalysisPlan> plan;
  uint64_t fp[2] = {0, 0xcbf29ce484222325ULL};  // the model's bytes, and a hash of its files' sizes and hashes
  agree(s, [&] {
    if (!s.threads_ok) throw Error("MPI: this MPI library cannot serve ranks from a second thread (MPI_THREAD_SERIALIZED)");
    ck.emplace(run.open_model());
    plan.emplace(ct::plan_analysis(*ck, run.settings));
    for (const FileFingerprint& f : fingerprint_input(ck->path)) {
      fp[0] += f.size_bytes;
      fp[1] = fnv1a64(fmt::format("{} {};", f.size_bytes, hex64(f.fnv1a64)), fp[1]);
    }
  });
  // Every rank must read the same bytes, and have one matrix to compute at least.
  uint64_t root[3] = {fp[0], fp[1], plan->jobs.size()};
  broadcast(root, 3);
  agree(s, [&] {
    if (root[0] != fp[0] || root[1] != fp[1])
      fail(ck->path.string(), "not the model rank 0 has ({} bytes, hash {}; rank 0's: {} bytes, hash {})", fp[0],
           hex64(fp[1]), root[0], hex64(root[1]));
    if (s.rank == kRoot && plan->jobs.size() < static_cast<size_t>(s.size))
      fail(ck->path.string(), "{} MPI ranks for {} matrices: start at most {} (mpirun -np {})", s.size,
           plan->jobs.size(), plan->jobs.size(), plan->jobs.size());
  });
  std::unique_ptr<ct::AnalysisJournal> journal;
  agree(s, [&] {
    if (s.rank == kRoot && !run.journal.empty())
      journal = std::make_unique<ct::AnalysisJournal>(run.journal, ct::journal_identity(*ck, plan->out.settings));
  });
  ct::BasisProvider bases = ct::plan_bases(*ck, *plan);
  const auto& kinds = plan->out.settings.bases;
  if (std::find(kinds.begin(), kinds.end(), ct::BasisKind::Universal) != kinds.end())
    bases.use_pooled(pool_universal(s, *ck, *plan));
  std::optional<ct::ModelAnalysis> result;
  agree(s, [&] {
    if (s.rank == kRoot) result = lead(s, *ck, std::move(*plan), bases, journal.get(), run.progress);
    else work(*ck, *plan, bases);
  });
  return result;
}

}  // namespace ctscope::dist
