// One matrix's result as bytes: what a run journal (--journal) stores and what
// MPI ranks send to rank 0. Every number keeps its exact bits (doubles are
// copied, never printed), so a result rebuilt from records equals the one
// computed in place, number for number.
#pragma once
#include <string>
#include <string_view>

#include "ct/model_analysis.hpp"

namespace ctscope::ct {

// Little-endian, versioned by the journal and the MPI protocol that carry it.
std::string encode_record(const MatrixRecord& r);
// Throws Error("matrix record: ...") on bytes that are not one whole record.
MatrixRecord decode_record(std::string_view bytes);

}  // namespace ctscope::ct
