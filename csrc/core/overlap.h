// Internal overlap of a tensor's elements: the check every in-place write runs on its destination.
#pragma once
#include "core/tensor.h"

namespace dlcore {

// True when two elements of t share a memory location: a dim of size > 1 with stride 0, or a strided view whose
// elements repeat (decided exactly for views of up to 2^20 elements; beyond that only the stride-0 case counts, as
// PyTorch's "too hard to tell" allows the write).
bool has_internal_overlap(const Tensor& t);

// Raises RuntimeError naming op when t, the destination of an in-place write, has internal overlap: the write would
// run once per alias of an element (PyTorch's check).
void check_no_internal_overlap(const Tensor& t, const char* op);

}  // namespace dlcore
