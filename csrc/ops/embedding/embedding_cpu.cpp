// CPU embedding: row copies (threaded over rows) and the scatter-add backward (threaded over column blocks, so
// repeated indices never race), registration, and the frontend.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "core/parallel.h"
#include "ops/activation/layer_checks.h"
#include "ops/embedding/embedding.h"

namespace dlcore {

namespace {

void embedding_fwd_cpu(const Tensor& out, const Tensor& weight, const Tensor& idx) {
  int64_t M = idx.numel(), D = weight.size(1);
  const int64_t* ix = idx.data<int64_t>();
  const char* w = static_cast<const char*>(weight.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  const int64_t row = D * (int64_t)weight.itemsize();
  parallel_for(0, M, std::max<int64_t>(1, 65536 / std::max<int64_t>(row, 1)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) std::memcpy(o + m * row, w + ix[m] * row, row);
  });
}

void embedding_bwd_cpu(const Tensor& gw, const Tensor& g, const Tensor& idx, int64_t padding_idx, bool freq) {
  dispatch_float(gw.dtype(), "embedding_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    int64_t V = gw.size(0), D = gw.size(1), M = idx.numel();
    const int64_t* ix = idx.data<int64_t>();
    const T* gp = g.data<T>();
    T* o = gw.data<T>();
    std::memset(o, 0, V * D * sizeof(T));
    std::vector<T> inv_count;
    if (freq) {
      std::unordered_map<int64_t, int64_t> counts;
      for (int64_t m = 0; m < M; ++m) ++counts[ix[m]];
      inv_count.resize(M);
      for (int64_t m = 0; m < M; ++m) inv_count[m] = T(1) / (T)counts[ix[m]];
    }
    // Column blocks of at least 16 elements per thread; every thread sees every index.
    parallel_for(0, D, std::max<int64_t>(16, (M * D < 65536 ? D : 16)), [&](int64_t d0, int64_t d1) {
      for (int64_t m = 0; m < M; ++m) {
        int64_t v = ix[m];
        if (v == padding_idx) continue;
        T s = freq ? inv_count[m] : T(1);
        T* orow = o + v * D;
        const T* grow = gp + m * D;
        for (int64_t d = d0; d < d1; ++d) orow[d] += grow[d] * s;
      }
    });
  });
}

KernelRegistrar r1(embedding_fwd_op, DeviceType::CPU, &embedding_fwd_cpu, "cpu");
KernelRegistrar r2(embedding_bwd_op, DeviceType::CPU, &embedding_bwd_cpu, "cpu");

void check_indices(const Tensor& idx, int64_t V, const char* op) {
  layers::check_index_dtype(idx, op, "input");
  Tensor host = idx.to(Device());  // the range check reads the indices on the host (a copy when on cuda)
  const int64_t* p = host.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    DLCORE_CHECK(p[i] >= 0 && p[i] < V, IndexError, op, "(): index ", p[i], " is out of range for ", V,
                 " embeddings (at flat position ", i, ")");
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  const char* op = "embedding";
  layers::check_float(weight, op, "weight");
  DLCORE_CHECK(weight.dim() == 2, ValueError, op, "(): expected a 2-D weight [num_embeddings, embedding_dim], got ",
               weight.shape().str());
  layers::check_defined(indices, op, "input");
  layers::check_same_device(weight, indices, op, "weight", "input");
  Tensor ic = indices.contiguous();
  check_indices(ic, weight.size(0), op);
  IntList os = indices.shape();
  os.push_back(weight.size(1));
  Tensor out = Tensor::empty(os, weight.dtype(), weight.device());
  if (out.numel()) embedding_fwd_op.get(weight.device().type)(out, weight.contiguous(), ic);
  return out;
}

Tensor embedding_backward(const Tensor& grad_out, const Tensor& indices, int64_t num_weights, int64_t padding_idx,
                          bool scale_grad_by_freq) {
  const char* op = "embedding_backward";
  layers::check_float(grad_out, op, "grad_output");
  Tensor ic = indices.contiguous();
  check_indices(ic, num_weights, op);
  IntList es = indices.shape();
  DLCORE_CHECK(grad_out.dim() == es.size() + 1, ValueError, op, "(): expected grad_output of rank ", es.size() + 1,
               ", got ", grad_out.shape().str());
  for (int d = 0; d < es.size(); ++d)
    DLCORE_CHECK(grad_out.size(d) == es[d], ValueError, op, "(): grad_output ", grad_out.shape().str(),
                 " does not match indices ", es.str());
  int64_t D = grad_out.size(grad_out.dim() - 1);
  Tensor gw = Tensor::empty(IntList{num_weights, D}, grad_out.dtype(), grad_out.device());
  if (gw.numel()) {
    Tensor g = grad_out.contiguous().view(IntList{ic.numel(), D});
    embedding_bwd_op.get(grad_out.device().type)(gw, g, ic.view(IntList{ic.numel()}), padding_idx,
                                                 scale_grad_by_freq);
  }
  return gw;
}

}  // namespace dlcore
