// CUDA kernels of the CTC loss (formulas and layouts in ctc.h; the CPU version is ctc_cpu.cpp).
//
// One block per sample n, its threads over the extended-target positions s = 0 .. S'-1 (a stride loop when S' is
// larger than the block). The problem's lengths and labels are small int64 arrays on the device; the extended
// label of position s is blank for even s and the target's label (s-1)/2 for odd s.
//   alpha: row t of sample n at alpha + (n * rows + t) * ld with two leading -inf columns (rows = T: all rows
//          stored for the backward; rows = 2: two rolling rows, forward only); every step reads row t-1 and writes
//          row t, a __syncthreads between steps. Thread 0 forms the nll from the last row.
//   beta + gradient: the beta recursion from t = T_n - 1 down to 0 in two rolling rows of a per-sample scratch
//          (two trailing -inf columns); per step the posteriors q[s] = exp(alpha_t(s) + beta_t(s) - lp + nll) go to
//          the scratch, the per-class sums Q[c] are formed without atomics - the thread of the first position of
//          each class (s = 0 for the blank, the first odd s with that label) adds the class's q[s] in ascending s,
//          the order of the CPU's loop, so the sums are deterministic - into a [C] row that is zero elsewhere
//          (the same threads clear their entries after use), then the threads over c write the gradient row.
// The scratch per sample: 2 ld (beta) + ld (q) + ld (class-owner flags) + C (Q), lp's dtype, global memory (the emulator poisons dynamic
// shared memory; at these sizes the rows stay in L1/L2 on a GPU).
#pragma once
#include <limits>

#include "cuda/cuda_kernel.cuh"
#include "ops/softmax_loss/ctc.h"

namespace dlcore::ctc_cuda {

constexpr int kMaxThreads = 256;

struct DevProblem {
  const int64_t* in_len;
  const int64_t* tgt_len;
  const int64_t* tgt_off;
  const int64_t* labels;
  int64_t T, N, C, blank;
};

__device__ __forceinline__ int64_t ext_label(const DevProblem& p, const int64_t* lab, int64_t s) {
  return (s & 1) ? lab[s >> 1] : p.blank;
}

// Whether alpha may come from s - 2 into s (forward skip): a label that differs from the label two back.
__device__ __forceinline__ bool skip_in(const DevProblem& p, const int64_t* lab, int64_t s) {
  return s >= 2 && (s & 1) && lab[s >> 1] != p.blank && (s < 3 || lab[s >> 1] != lab[(s >> 1) - 1]);
}

template <class T>
__global__ void ctc_alpha_kernel(DevProblem p, const T* __restrict__ lp, T* __restrict__ alpha, int64_t ld,
                                 int64_t rows, T* __restrict__ nll) {
  const T ninf = -std::numeric_limits<T>::infinity();
  const int64_t n = blockIdx.x;
  const int64_t Tn = p.in_len[n], L = p.tgt_len[n], Sp = 2 * L + 1;
  const int64_t* lab = p.labels + p.tgt_off[n];
  const int tid = threadIdx.x, nt = blockDim.x;
  if (Tn == 0) {
    if (tid == 0) nll[n] = L == 0 ? T(0) : std::numeric_limits<T>::infinity();
    return;
  }
  T* A = alpha + n * rows * ld;
  for (int64_t s = tid; s < Sp + 2; s += nt) A[s] = ninf;
  __syncthreads();
  if (tid == 0) {
    A[2] = lp[n * p.C + p.blank];
    if (L > 0) A[3] = lp[n * p.C + lab[0]];
  }
  __syncthreads();
  for (int64_t t = 1; t < Tn; ++t) {
    const T* prev = A + (rows == 2 ? (t - 1) & 1 : t - 1) * ld;
    T* cur = A + (rows == 2 ? t & 1 : t) * ld;
    const T* row = lp + (t * p.N + n) * p.C;
    if (tid < 2) cur[tid] = ninf;
    for (int64_t s = tid; s < Sp; s += nt) {
      const T k = skip_in(p, lab, s) ? T(0) : ninf;
      cur[2 + s] = ctc_lse3<T>(prev[2 + s], prev[1 + s], prev[s] + k, row[ext_label(p, lab, s)]);
    }
    __syncthreads();
  }
  if (tid == 0) {
    const T* last = A + (rows == 2 ? (Tn - 1) & 1 : Tn - 1) * ld;
    const T l1 = last[2 + Sp - 1], l2 = L > 0 ? last[2 + Sp - 2] : ninf;
    T m = l1 < l2 ? l2 : l1;
    m = m == ninf ? T(0) : m;
    nll[n] = -(std::log(std::exp(l1 - m) + std::exp(l2 - m)) + m);
  }
}

// The position s is the first of its class among the sample's extended labels (s = 0 for the blank; an odd s
// whose label is neither the blank nor any earlier label).
__device__ __forceinline__ bool first_of_class(const DevProblem& p, const int64_t* lab, int64_t s) {
  if (s == 0) return true;
  if (!(s & 1)) return false;
  const int64_t c = lab[s >> 1];
  if (c == p.blank) return false;
  for (int64_t i = 0; i < (s >> 1); ++i)
    if (lab[i] == c) return false;
  return true;
}

template <class T>
__global__ void ctc_grad_kernel(DevProblem p, const T* __restrict__ lp, const T* __restrict__ nll_in,
                                const T* __restrict__ alpha, int64_t ld, const T* __restrict__ g, bool zero_infinity,
                                T* __restrict__ grad, T* __restrict__ scratch) {
  const T ninf = -std::numeric_limits<T>::infinity(), inf = std::numeric_limits<T>::infinity();
  const int64_t n = blockIdx.x, N = p.N, C = p.C;
  const int64_t Tn = p.in_len[n], L = p.tgt_len[n], Sp = 2 * L + 1;
  const int64_t* lab = p.labels + p.tgt_off[n];
  const int tid = threadIdx.x, nt = blockDim.x;
  const T nl = nll_in[n], gr = g[n];
  int64_t t_fill = Tn;  // rows [t_fill, T) get zeros
  if (nl == inf) {
    if (zero_infinity) {
      t_fill = 0;
    } else {  // torch: exp(lp) - exp(-inf + inf - lp) = NaN on the rows t < T_n
      for (int64_t i = tid; i < Tn * C; i += nt) grad[((i / C) * N + n) * C + i % C] = std::numeric_limits<T>::quiet_NaN();
    }
  } else if (Tn > 0) {
    T* B = scratch + n * (4 * ld + C);  // two beta rows, then q, the owner flags, then Q
    T* q = B + 2 * ld;
    T* own = q + ld;  // 1 where s is the first position of its class (first_of_class, O(L): once, not per step)
    T* Q = own + ld;
    for (int64_t c = tid; c < C; c += nt) Q[c] = T(0);
    for (int64_t s = tid; s < Sp; s += nt) own[s] = first_of_class(p, lab, s) ? T(1) : T(0);
    const T* An = alpha + n * p.T * ld;
    for (int64_t t = Tn - 1; t >= 0; --t) {
      T* cb = B + (t & 1) * ld;
      const T* nb = B + ((t + 1) & 1) * ld;
      const T* row = lp + (t * N + n) * C;
      for (int64_t s = tid; s < Sp; s += nt) {
        const T e = row[ext_label(p, lab, s)];
        T b;
        if (t == Tn - 1) {
          b = s >= Sp - 2 ? e : ninf;
        } else {
          const T k = s + 2 < Sp && skip_in(p, lab, s + 2) ? T(0) : ninf;
          b = ctc_lse3<T>(nb[s], nb[s + 1], nb[s + 2] + k, e);
        }
        cb[s] = b;
        q[s] = ctc_posterior<T>(An[t * ld + 2 + s] + b, e, nl);
      }
      if (tid < 2) cb[Sp + tid] = ninf;
      __syncthreads();
      for (int64_t s = tid; s < Sp; s += nt) {
        if (own[s] == T(0)) continue;
        const int64_t c = ext_label(p, lab, s);
        T acc = T(0);
        for (int64_t u = s; u < Sp; u += 2)
          if (ext_label(p, lab, u) == c) acc += q[u];
        Q[c] = acc;
      }
      __syncthreads();
      for (int64_t c = tid; c < C; c += nt) grad[(t * N + n) * C + c] = ctc_grad<T>(row[c], Q[c], gr);
      __syncthreads();
      for (int64_t s = tid; s < Sp; s += nt)
        if (own[s] != T(0)) Q[ext_label(p, lab, s)] = T(0);
      __syncthreads();
    }
  }
  for (int64_t i = tid; i < (p.T - t_fill) * C; i += nt) grad[((t_fill + i / C) * N + n) * C + i % C] = T(0);
}

inline int block_threads(int64_t max_sp) {
  int64_t b = 32;
  while (b < max_sp && b < kMaxThreads) b *= 2;
  return (int)b;
}

// The problem's arrays on lp's device (kept alive by the returned tensors).
struct DevArrays {
  Tensor in_len, tgt_len, tgt_off, labels;
  DevProblem view(const CtcProblem& p) const {
    return DevProblem{in_len.data<int64_t>(), tgt_len.data<int64_t>(), tgt_off.data<int64_t>(),
                      labels.data<int64_t>(), p.T, p.N, p.C, p.blank};
  }
};

inline Tensor to_device(const std::vector<int64_t>& v, Device dev) {
  Tensor h = Tensor::empty(IntList{std::max<int64_t>((int64_t)v.size(), 1)}, DType::Int64);
  int64_t* d = h.data<int64_t>();
  d[0] = 0;
  for (std::size_t i = 0; i < v.size(); ++i) d[i] = v[i];
  return h.to(dev);
}

inline DevArrays dev_arrays(const CtcProblem& p, Device dev) {
  return DevArrays{to_device(p.in_len, dev), to_device(p.tgt_len, dev), to_device(p.tgt_off, dev),
                   to_device(p.labels, dev)};
}

template <class T>
Tensor forward_launch(const Tensor& lp, const CtcProblem& p, Tensor* alpha) {
  const Device dev = lp.device();
  Tensor nll = Tensor::empty(IntList{p.N}, lp.dtype(), dev);
  if (p.N == 0) return nll;
  const int64_t ld = p.max_sp() + 2, rows = alpha ? std::max<int64_t>(p.T, 1) : 2;
  Tensor A = Tensor::empty(IntList{p.N, rows, ld}, lp.dtype(), dev);
  const DevArrays arr = dev_arrays(p, dev);
  auto* k = &ctc_alpha_kernel<T>;
  DLCORE_LAUNCH(k, (unsigned)p.N, block_threads(p.max_sp()), 0, cuda::current_stream())(
      arr.view(p), lp.data<T>(), A.data<T>(), ld, rows, nll.data<T>());
  if (alpha) *alpha = A;
  return nll;
}

template <class T>
Tensor backward_launch(const Tensor& lp, const CtcProblem& p, const Tensor& nll, const Tensor& alpha_in,
                       const Tensor& g, bool zero_infinity) {
  const Device dev = lp.device();
  Tensor grad = Tensor::empty(lp.shape(), lp.dtype(), dev);
  if (p.N == 0 || grad.numel() == 0) return grad;
  const int64_t ld = p.max_sp() + 2;
  Tensor alpha = alpha_in;
  if (!alpha.defined()) forward_launch<T>(lp, p, &alpha);
  Tensor scratch = Tensor::empty(IntList{p.N, 4 * ld + p.C}, lp.dtype(), dev);
  const DevArrays arr = dev_arrays(p, dev);
  auto* k = &ctc_grad_kernel<T>;
  DLCORE_LAUNCH(k, (unsigned)p.N, block_threads(p.max_sp()), 0, cuda::current_stream())(
      arr.view(p), lp.data<T>(), nll.data<T>(), alpha.data<T>(), ld, g.data<T>(), zero_infinity, grad.data<T>(),
      scratch.data<T>());
  return grad;
}

struct CtcCudaFns {
  Tensor (*forward)(const Tensor&, const CtcProblem&, Tensor*);
  Tensor (*backward)(const Tensor&, const CtcProblem&, const Tensor&, const Tensor&, const Tensor&, bool);
};

template <class T>
CtcCudaFns ctc_cuda_fns() {
  return CtcCudaFns{&forward_launch<T>, &backward_launch<T>};
}

CtcCudaFns ctc_cuda_fns_f64();  // ctc_f64_cuda.cu

}  // namespace dlcore::ctc_cuda
