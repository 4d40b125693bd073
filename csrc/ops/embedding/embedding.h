// Embedding: a row gather and its scatter-add backward.
//
// weight [V, D], indices int64 of any shape [*] with values in [0, V) -> out [*, D], out[i, :] = weight[idx[i], :].
// Backward: grad_weight [V, D] = 0; grad_weight[idx[i], :] += g[i, :] for every i (repeated indices sum), skipping
// idx[i] == padding_idx (that row gets zero gradient); with scale_grad_by_freq each contribution is divided by the
// number of times its index occurs in the batch.
#pragma once
#include <cstdint>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// out [M, D], idx [M] (contiguous, checked in range), weight [V, D] (row stride D).
using EmbeddingFwdFn = void(const Tensor& out, const Tensor& weight, const Tensor& idx);
// grad_weight [V, D] (written entirely), g [M, D], idx [M]; padding_idx < 0 = none.
using EmbeddingBwdFn = void(const Tensor& grad_weight, const Tensor& g, const Tensor& idx, int64_t padding_idx,
                            bool scale_grad_by_freq);
inline Op<EmbeddingFwdFn> embedding_fwd_op{"embedding"};
inline Op<EmbeddingBwdFn> embedding_bwd_op{"embedding_backward"};

// ---- frontend ----
Tensor embedding(const Tensor& weight, const Tensor& indices);
Tensor embedding_backward(const Tensor& grad_out, const Tensor& indices, int64_t num_weights, int64_t padding_idx,
                          bool scale_grad_by_freq);

}  // namespace dlcore
