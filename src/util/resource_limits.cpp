#include "util/resource_limits.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "util/error.hpp"

namespace ctscope::limits {

void check(const std::string& where, std::string_view what, uint64_t claimed, uint64_t limit, std::string_view why) {
  if (claimed > limit) fail(where, "{} {} is over the limit of {} ({})", what, claimed, limit, why);
}

void check_name(const std::string& where, std::string_view what, std::string_view name) {
  if (name.size() <= kMaxNameBytes) return;
  fail(where, "a {} of {} bytes is over the limit of {} (no real checkpoint has one): '{}...'", what, name.size(),
       kMaxNameBytes, name.substr(0, 40));
}

uint64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    uint64_t kb = 0;
    if (fields >> kb) return kb * 1024;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
}

void check_allocation(const std::string& where, std::string_view what, uint64_t bytes) {
  const uint64_t avail = available_memory();
  if (bytes <= avail) return;
  const std::string msg = fmt::format("{} would take {:.3g} GB, more than the {:.3g} GB of memory available", what,
                                      static_cast<double>(bytes) / 1e9, static_cast<double>(avail) / 1e9);
  throw Error(where.empty() ? msg : where + ": " + msg);
}

}  // namespace ctscope::limits
