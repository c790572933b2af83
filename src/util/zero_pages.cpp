#include "util/zero_pages.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace ctscope {

void discard_zero_pages(void* p, size_t bytes) {
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (at + page - 1) / page * page, end = (at + bytes) / page * page;
  // Advice only: where the kernel declines, the zeros stay resident.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace ctscope
