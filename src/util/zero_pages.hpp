// Returning untouched parts of big zeroed buffers to the system.
#pragma once
#include <cstddef>

namespace ctscope {

// The whole pages inside [p, p + bytes) of private anonymous memory (any
// heap buffer) go back to the system and read as zeros until written again:
// for a buffer just zeroed (std::vector growth) that is the same contents at
// no resident cost, so the parts a computation never touches (a Gram's lower
// triangle, the Krylov columns a matrix does not need) stay out of the peak RSS.
void discard_zero_pages(void* p, size_t bytes);

}  // namespace ctscope
