// CUDA fused multi-tensor optimizer kernels (the formulas of optim.h, shared with the CPU loops).
//
// Multi-tensor apply (PyTorch's multi_tensor_apply design): one launch updates many tensors. The launcher packs a
// TensorListMeta by value into the kernel's parameters: per tensor slot, the pointers of its lists (param, grad,
// state...) and its element count; per block, the tensor slot it works on and which kChunk-element chunk of that
// tensor. Each block walks its chunk with a block-stride loop. Passing the metadata by value (not through a device
// array) keeps a launch free of host->device copies, so a captured CUDA graph replays it unchanged. When a group
// has more tensors than fit (kMaxTensors of the depth) or more chunks than kMaxBlocks, the launcher issues more
// launches; a typical group (a network's parameters) is one launch.
//
// Every element is owned by exactly one thread of one block: no inter-block communication, no atomics.
#pragma once
#include <array>
#include <cmath>
#include <vector>

#include "cuda/cuda_kernel.cuh"
#include "ops/optim/optim.h"

namespace dlcore::optim_cuda {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 16384;  // elements per block (64 per thread)
constexpr int kMaxBlocks = 320;
// Tensor slots per launch so that the metadata stays under the 4 KiB kernel-parameter limit of older toolkits.
constexpr int max_tensors(int depth) {
  return depth <= 2 ? 64 : depth == 3 ? 48 : depth == 4 ? 36 : depth == 5 ? 30 : 24;
}

template <class T, int Depth>
struct TensorListMeta {
  static constexpr int kMaxTensors = max_tensors(Depth);
  T* ptr[Depth][kMaxTensors];  // list d of tensor slot t (null for an absent optional list)
  int64_t numel[kMaxTensors];
  unsigned char block_tensor[kMaxBlocks];
  int block_chunk[kMaxBlocks];
};
static_assert(sizeof(TensorListMeta<double, 5>) <= 3200, "multi-tensor metadata must fit the parameter space");
static_assert(sizeof(TensorListMeta<double, 6>) <= 3200, "multi-tensor metadata must fit the parameter space");
static_assert(sizeof(TensorListMeta<double, 3>) <= 3200, "multi-tensor metadata must fit the parameter space");
static_assert(sizeof(TensorListMeta<double, 4>) <= 3200, "multi-tensor metadata must fit the parameter space");

// Hyper-parameters converted to T on the host (float kernels never touch double).
template <class T>
struct SgdK {
  T lr, wd, momentum, damp1;
  bool maximize, nesterov, has_buf, first;
};
template <class T>
struct AdamK {
  T wd, decay, omb1, b2, omb2, step_size, bc2_sqrt, eps;
  bool maximize, decoupled, amsgrad;
};
// Capturable Adam: what the bias corrections 1 - beta^t need on the device. They are computed as
// -expm1(t * log(beta)) with log(beta) taken in double on the host: 1 - beta2^t in float from a float beta2 = 0.999
// would lose ~4 digits to cancellation.
template <class T>
struct AdamDevK {
  AdamK<T> k;
  T lr, log_beta1, log_beta2;
};
template <class T>
struct AdagradK {
  T wd, clr, eps;
  bool maximize;
};
template <class T>
struct RmspropK {
  T wd, lr, alpha, oma, eps, momentum;
  bool maximize, centered, has_mom;
};

template <class T>
struct AdamaxK {  // state: exp_avg, exp_inf
  T wd, omb1, b2, eps, neg_clr;
  bool maximize;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    adamax_elem<T>(p, optim_grad<T>(g, p, wd, maximize), s[0], s[1], omb1, b2, eps, neg_clr);
  }
};
template <class T>
struct NadamK {  // state: exp_avg, exp_avg_sq
  T wd, decay, omb1, b2, omb2, bc2, eps, c_grad, c_avg;
  bool maximize, decoupled;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (decoupled) p = p * decay;
    T x = optim_grad<T>(g, p, decoupled ? T(0) : wd, maximize);
    nadam_elem<T>(p, x, s[0], s[1], omb1, b2, omb2, bc2, eps, c_grad, c_avg);
  }
};
template <class T>
struct RadamK {  // state: exp_avg, exp_avg_sq
  T wd, decay, omb1, b2, omb2, bc1, lr, bc2_sqrt, eps, rect;
  bool maximize, decoupled, rectified;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (decoupled) p = p * decay;
    T x = optim_grad<T>(g, p, decoupled ? T(0) : wd, maximize);
    radam_elem<T>(p, x, s[0], s[1], omb1, b2, omb2, bc1, lr, bc2_sqrt, eps, rect, rectified);
  }
};
template <class T>
struct AdadeltaK {  // state: square_avg, acc_delta
  T wd, rho, omr, eps, neg_lr;
  bool maximize;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    adadelta_elem<T>(p, optim_grad<T>(g, p, wd, maximize), s[0], s[1], rho, omr, eps, neg_lr);
  }
};
template <class T>
struct RpropK {  // state: prev, step_size
  T eta_minus, eta_plus, step_min, step_max;
  bool maximize;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    rprop_elem<T>(p, optim_grad<T>(g, p, T(0), maximize), s[0], s[1], eta_minus, eta_plus, step_min, step_max);
  }
};
template <class T>
struct AsgdK {  // state: ax
  T wd, decay, neg_eta, mu;
  bool maximize, copy_ax;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    asgd_elem<T>(p, optim_grad<T>(g, p, wd, maximize), s[0], decay, neg_eta, mu, copy_ax);
  }
};

// This block's element range [*lo, *hi) of its tensor slot; returns the slot.
template <class T, int Depth>
__device__ __forceinline__ int block_range(const TensorListMeta<T, Depth>& m, int64_t* lo, int64_t* hi) {
  int t = m.block_tensor[blockIdx.x];
  int64_t start = (int64_t)m.block_chunk[blockIdx.x] * kChunk;
  int64_t end = start + kChunk;
  *lo = start;
  *hi = end < m.numel[t] ? end : m.numel[t];
  return t;
}

// Lists: 0 param, 1 grad, 2 momentum buffer (null without momentum).
template <class T>
__global__ void sgd_mt_kernel(TensorListMeta<T, 3> m, SgdK<T> a) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  T* __restrict__ p = m.ptr[0][t];
  const T* __restrict__ g = m.ptr[1][t];
  T* __restrict__ buf = m.ptr[2][t];
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    T pi = p[i];
    T x = optim_grad<T>(g[i], pi, a.wd, a.maximize);
    if (a.has_buf) {
      T b = buf[i];
      sgd_momentum_elem<T>(pi, x, b, a.first, a.lr, a.momentum, a.damp1, a.nesterov);
      buf[i] = b;
    } else {
      pi = pi - a.lr * x;
    }
    p[i] = pi;
  }
}

// One block's slice [lo, hi) of tensor t. Lists: 0 param, 1 grad, 2 exp_avg, 3 exp_avg_sq, 4 max_exp_avg_sq (null
// unless amsgrad); further lists (the capturable step) are not touched here.
template <class T, int L>
__device__ __forceinline__ void adam_block(const TensorListMeta<T, L>& m, const AdamK<T>& a, int t, int64_t lo,
                                           int64_t hi) {
  T* __restrict__ p = m.ptr[0][t];
  const T* __restrict__ g = m.ptr[1][t];
  T* __restrict__ em = m.ptr[2][t];
  T* __restrict__ ev = m.ptr[3][t];
  T* __restrict__ vmax = m.ptr[4][t];
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    T pi = p[i];
    if (a.decoupled) pi = pi * a.decay;
    T x = optim_grad<T>(g[i], pi, a.decoupled ? T(0) : a.wd, a.maximize);
    T mi = em[i], vi = ev[i], vm = a.amsgrad ? vmax[i] : T(0);
    adam_elem<T>(pi, x, mi, vi, a.amsgrad ? &vm : nullptr, a.omb1, a.b2, a.omb2, a.step_size, a.bc2_sqrt, a.eps);
    em[i] = mi;
    ev[i] = vi;
    if (a.amsgrad) vmax[i] = vm;
    p[i] = pi;
  }
}

template <class T>
__global__ void adam_mt_kernel(TensorListMeta<T, 5> m, AdamK<T> a) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  adam_block<T, 5>(m, a, t, lo, hi);
}

// Capturable Adam. Lists: those of adam_mt_kernel, then 5: the parameter's 0-d step tensor (t of this update).
template <class T>
__global__ void adam_capturable_mt_kernel(TensorListMeta<T, 6> m, AdamDevK<T> d) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  T step = *m.ptr[5][t];
  AdamK<T> a = d.k;
  T bc1 = -std::expm1(step * d.log_beta1), bc2 = -std::expm1(step * d.log_beta2);
  a.step_size = d.lr / bc1;
  a.bc2_sqrt = std::sqrt(bc2);
  adam_block<T, 6>(m, a, t, lo, hi);
}

// Lists: 0 param, 1 grad, 2 state sum.
template <class T>
__global__ void adagrad_mt_kernel(TensorListMeta<T, 3> m, AdagradK<T> a) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  T* __restrict__ p = m.ptr[0][t];
  const T* __restrict__ g = m.ptr[1][t];
  T* __restrict__ s = m.ptr[2][t];
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    T pi = p[i], si = s[i];
    T x = optim_grad<T>(g[i], pi, a.wd, a.maximize);
    adagrad_elem<T>(pi, x, si, a.clr, a.eps);
    s[i] = si;
    p[i] = pi;
  }
}

// Lists: 0 param, 1 grad, 2 square_avg, 3 grad_avg (null unless centered), 4 momentum buffer (null without).
template <class T>
__global__ void rmsprop_mt_kernel(TensorListMeta<T, 5> m, RmspropK<T> a) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  T* __restrict__ p = m.ptr[0][t];
  const T* __restrict__ g = m.ptr[1][t];
  T* __restrict__ sq = m.ptr[2][t];
  T* __restrict__ ga = m.ptr[3][t];
  T* __restrict__ buf = m.ptr[4][t];
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    T pi = p[i], si = sq[i], gai = a.centered ? ga[i] : T(0);
    T x = optim_grad<T>(g[i], pi, a.wd, a.maximize);
    T d = rmsprop_denom<T>(x, si, a.centered ? &gai : nullptr, a.alpha, a.oma, a.eps);
    sq[i] = si;
    if (a.centered) ga[i] = gai;
    if (a.has_mom) {
      T b = a.momentum * buf[i] + x / d;
      buf[i] = b;
      pi = pi - a.lr * b;
    } else {
      pi = pi - a.lr * (x / d);
    }
    p[i] = pi;
  }
}

// The optimizers whose update is k(param, grad, state...) per element with Depth - 2 state lists (Adamax, NAdam,
// RAdam, Adadelta, Rprop, ASGD: see each K's operator() for its lists). Lists: 0 param, 1 grad, 2.. the state.
template <class T, int Depth, class K>
__global__ void lists_mt_kernel(TensorListMeta<T, Depth> m, K k) {
  int64_t lo, hi;
  int t = block_range(m, &lo, &hi);
  T* __restrict__ p = m.ptr[0][t];
  const T* __restrict__ g = m.ptr[1][t];
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    T pi = p[i], st[Depth - 2];
    DLCORE_UNROLL
    for (int d = 0; d < Depth - 2; ++d) st[d] = m.ptr[d + 2][t][i];
    k(pi, g[i], st);
    DLCORE_UNROLL
    for (int d = 0; d < Depth - 2; ++d) m.ptr[d + 2][t][i] = st[d];
    p[i] = pi;
  }
}

// ---- host side: packing a group into launches ----

// Packs tensors (each an array of Depth pointers + its element count) into TensorListMeta launches and calls
// launch(meta, blocks) for each full or final one. A tensor whose chunks straddle a launch is carried over into
// slot 0 of the next one.
template <class T, int Depth, class LaunchFn>
void multi_tensor_apply(const std::vector<std::array<T*, Depth>>& ptrs, const std::vector<int64_t>& numels,
                        const LaunchFn& launch) {
  using Meta = TensorListMeta<T, Depth>;
  Meta meta{};
  int slot = 0, nb = 0;
  for (std::size_t i = 0; i < ptrs.size(); ++i) {
    int64_t n = numels[i];
    if (n == 0) continue;
    for (int d = 0; d < Depth; ++d) meta.ptr[d][slot] = ptrs[i][d];
    meta.numel[slot] = n;
    int64_t chunks = (n + kChunk - 1) / kChunk;
    for (int64_t c = 0; c < chunks; ++c) {
      meta.block_tensor[nb] = (unsigned char)slot;
      meta.block_chunk[nb] = (int)c;
      ++nb;
      bool last_chunk = c == chunks - 1;
      if (nb == kMaxBlocks || (last_chunk && slot + 1 == Meta::kMaxTensors)) {
        launch(meta, nb);
        nb = 0;
        if (last_chunk) {
          slot = -1;  // the next tensor starts at slot 0
        } else {      // the rest of this tensor continues in slot 0 of the next launch
          for (int d = 0; d < Depth; ++d) meta.ptr[d][0] = ptrs[i][d];
          meta.numel[0] = n;
          slot = 0;
        }
      }
    }
    ++slot;
  }
  if (nb > 0) launch(meta, nb);
}

// ---- launchers (hyper-parameters are converted to T here, as the CPU loops do) ----

template <class T>
T* list_ptr(const TensorList& l, std::size_t i) {
  return l.empty() || !l[i].defined() ? nullptr : l[i].data<T>();
}

// Calls body(indices) once per distinct key[i] (parameters whose step count or first-step flag differ need other
// scalars; in a normal group every key is equal and this is one call).
template <class K, class Body>
void for_each_key_group(const std::vector<K>& keys, std::size_t n, const Body& body) {
  std::vector<bool> done(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    if (done[i]) continue;
    std::vector<std::size_t> idx;
    for (std::size_t j = i; j < n; ++j)
      if (!done[j] && keys[j] == keys[i]) {
        idx.push_back(j);
        done[j] = true;
      }
    body(keys[i], idx);
  }
}

template <class T>
void sgd_launch(const TensorList& params, const TensorList& grads, const TensorList& bufs,
                const std::vector<uint8_t>& first, const SgdArgs& a) {
  bool mom = !bufs.empty() && a.momentum != 0;
  std::vector<uint8_t> keys(params.size(), 0);
  if (mom && !first.empty()) keys = first;
  for_each_key_group(keys, params.size(), [&](uint8_t f, const std::vector<std::size_t>& idx) {
    SgdK<T> k{(T)a.lr, (T)a.weight_decay, (T)a.momentum, (T)(1.0 - a.dampening), a.maximize, a.nesterov, mom,
              f != 0};
    std::vector<std::array<T*, 3>> ptrs;
    std::vector<int64_t> numels;
    for (std::size_t i : idx) {
      ptrs.push_back({params[i].data<T>(), const_cast<T*>(grads[i].data<T>()), mom ? list_ptr<T>(bufs, i) : nullptr});
      numels.push_back(params[i].numel());
    }
    multi_tensor_apply<T, 3>(ptrs, numels, [&](const TensorListMeta<T, 3>& m, int nb) {
      DLCORE_LAUNCH(&sgd_mt_kernel<T>, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(m, k);
    });
  });
}

template <class T>
void adam_launch(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                 const TensorList& vmax, const std::vector<int64_t>& steps, const AdamArgs& a) {
  bool ams = a.amsgrad && !vmax.empty();
  for_each_key_group(steps, params.size(), [&](int64_t step, const std::vector<std::size_t>& idx) {
    double bc1 = 1.0 - std::pow(a.beta1, (double)step);
    double bc2 = 1.0 - std::pow(a.beta2, (double)step);
    bool decoupled = a.decoupled && a.weight_decay != 0;
    AdamK<T> k{(T)a.weight_decay, (T)(1.0 - a.lr * a.weight_decay), (T)(1.0 - a.beta1), (T)a.beta2,
               (T)(1.0 - a.beta2), (T)(a.lr / bc1), (T)std::sqrt(bc2), (T)a.eps, a.maximize, decoupled, ams};
    std::vector<std::array<T*, 5>> ptrs;
    std::vector<int64_t> numels;
    for (std::size_t i : idx) {
      ptrs.push_back({params[i].data<T>(), const_cast<T*>(grads[i].data<T>()), m[i].data<T>(), v[i].data<T>(),
                      ams ? list_ptr<T>(vmax, i) : nullptr});
      numels.push_back(params[i].numel());
    }
    multi_tensor_apply<T, 5>(ptrs, numels, [&](const TensorListMeta<T, 5>& meta, int nb) {
      DLCORE_LAUNCH(&adam_mt_kernel<T>, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(meta, k);
    });
  });
}

template <class T>
void adam_capturable_launch(const TensorList& params, const TensorList& grads, const TensorList& m,
                            const TensorList& v, const TensorList& vmax, const TensorList& steps, const AdamArgs& a) {
  bool ams = a.amsgrad && !vmax.empty();
  bool decoupled = a.decoupled && a.weight_decay != 0;
  AdamK<T> k{(T)a.weight_decay, (T)(1.0 - a.lr * a.weight_decay), (T)(1.0 - a.beta1), (T)a.beta2,
             (T)(1.0 - a.beta2), T(0), T(1), (T)a.eps, a.maximize, decoupled, ams};
  AdamDevK<T> dk{k, (T)a.lr, (T)std::log(a.beta1), (T)std::log(a.beta2)};
  std::vector<std::array<T*, 6>> ptrs;
  std::vector<int64_t> numels;
  for (std::size_t i = 0; i < params.size(); ++i) {
    ptrs.push_back({params[i].data<T>(), const_cast<T*>(grads[i].data<T>()), m[i].data<T>(), v[i].data<T>(),
                    ams ? list_ptr<T>(vmax, i) : nullptr, const_cast<T*>(steps[i].data<T>())});
    numels.push_back(params[i].numel());
  }
  multi_tensor_apply<T, 6>(ptrs, numels, [&](const TensorListMeta<T, 6>& meta, int nb) {
    DLCORE_LAUNCH(&adam_capturable_mt_kernel<T>, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(meta, dk);
  });
}

template <class T>
void adagrad_launch(const TensorList& params, const TensorList& grads, const TensorList& sums,
                    const std::vector<int64_t>& steps, const AdagradArgs& a) {
  for_each_key_group(steps, params.size(), [&](int64_t step, const std::vector<std::size_t>& idx) {
    AdagradK<T> k{(T)a.weight_decay, (T)(a.lr / (1.0 + (double)(step - 1) * a.lr_decay)), (T)a.eps, a.maximize};
    std::vector<std::array<T*, 3>> ptrs;
    std::vector<int64_t> numels;
    for (std::size_t i : idx) {
      ptrs.push_back({params[i].data<T>(), const_cast<T*>(grads[i].data<T>()), sums[i].data<T>()});
      numels.push_back(params[i].numel());
    }
    multi_tensor_apply<T, 3>(ptrs, numels, [&](const TensorListMeta<T, 3>& meta, int nb) {
      DLCORE_LAUNCH(&adagrad_mt_kernel<T>, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(meta, k);
    });
  });
}

template <class T>
void rmsprop_launch(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& ga,
                    const TensorList& bufs, const RmspropArgs& a) {
  bool centered = a.centered && !ga.empty(), mom = a.momentum > 0 && !bufs.empty();
  RmspropK<T> k{(T)a.weight_decay, (T)a.lr, (T)a.alpha, (T)(1.0 - a.alpha), (T)a.eps, (T)a.momentum,
                a.maximize, centered, mom};
  std::vector<std::array<T*, 5>> ptrs;
  std::vector<int64_t> numels;
  for (std::size_t i = 0; i < params.size(); ++i) {
    ptrs.push_back({params[i].data<T>(), const_cast<T*>(grads[i].data<T>()), sq[i].data<T>(),
                    centered ? list_ptr<T>(ga, i) : nullptr, mom ? list_ptr<T>(bufs, i) : nullptr});
    numels.push_back(params[i].numel());
  }
  multi_tensor_apply<T, 5>(ptrs, numels, [&](const TensorListMeta<T, 5>& meta, int nb) {
    DLCORE_LAUNCH(&rmsprop_mt_kernel<T>, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(meta, k);
  });
}

// Packs the parameters idx (lists: param, grad, then the state lists) and launches kernel over them.
template <class T, int Depth, class K>
void launch_lists(const K& k, const std::vector<std::size_t>& idx,
                  const TensorList& params, const TensorList& grads,
                  const std::array<const TensorList*, Depth - 2>& states) {
  std::vector<std::array<T*, Depth>> ptrs;
  std::vector<int64_t> numels;
  for (std::size_t i : idx) {
    std::array<T*, Depth> a{};
    a[0] = params[i].data<T>();
    a[1] = const_cast<T*>(grads[i].data<T>());
    for (int d = 0; d < Depth - 2; ++d) {
      const Tensor& st = (*states[d])[i];
      a[d + 2] = st.data<T>();
    }
    ptrs.push_back(a);
    numels.push_back(params[i].numel());
  }
  multi_tensor_apply<T, Depth>(ptrs, numels, [&](const TensorListMeta<T, Depth>& meta, int nb) {
    void (*kernel)(TensorListMeta<T, Depth>, K) = &lists_mt_kernel<T, Depth, K>;
    DLCORE_LAUNCH(kernel, dim3(nb), dim3(kThreads), 0, cuda::current_stream())(meta, k);
  });
}

template <class T>
void adamax_launch(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& u,
                   const std::vector<int64_t>& steps, const AdamaxArgs& a) {
  for_each_key_group(steps, params.size(), [&](int64_t step, const std::vector<std::size_t>& idx) {
    AdamaxK<T> k{(T)a.weight_decay, (T)(1.0 - a.beta1), (T)a.beta2, (T)a.eps,
                 (T)(-(a.lr / (1.0 - std::pow(a.beta1, (double)step)))), a.maximize};
    launch_lists<T, 4>(k, idx, params, grads, {&m, &u});
  });
}

template <class T>
void nadam_launch(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                  const std::vector<int64_t>& steps, const std::vector<double>& mu_products, const NadamArgs& a) {
  std::vector<std::pair<int64_t, double>> keys;
  for (std::size_t i = 0; i < params.size(); ++i) keys.emplace_back(steps[i], mu_products[i]);
  bool dec = a.decoupled && a.weight_decay != 0;
  for_each_key_group(keys, params.size(), [&](const std::pair<int64_t, double>& key,
                                              const std::vector<std::size_t>& idx) {
    NadamScalars s = nadam_scalars(a, key.first, key.second);
    NadamK<T> k{(T)a.weight_decay, (T)(1.0 - a.lr * a.weight_decay), (T)(1.0 - a.beta1), (T)a.beta2,
                (T)(1.0 - a.beta2), (T)s.bc2, (T)a.eps, (T)s.c_grad, (T)s.c_avg, a.maximize, dec};
    launch_lists<T, 4>(k, idx, params, grads, {&m, &v});
  });
}

template <class T>
void radam_launch(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                  const std::vector<int64_t>& steps, const RadamArgs& a) {
  bool dec = a.decoupled && a.weight_decay != 0;
  for_each_key_group(steps, params.size(), [&](int64_t step, const std::vector<std::size_t>& idx) {
    RadamScalars s = radam_scalars(a, step);
    RadamK<T> k{(T)a.weight_decay, (T)(1.0 - a.lr * a.weight_decay), (T)(1.0 - a.beta1), (T)a.beta2,
                (T)(1.0 - a.beta2), (T)s.bc1, (T)a.lr, (T)s.bc2_sqrt, (T)a.eps, (T)s.rect, a.maximize, dec,
                s.rectified};
    launch_lists<T, 4>(k, idx, params, grads, {&m, &v});
  });
}

inline std::vector<std::size_t> all_indices(std::size_t n) {
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  return idx;
}

template <class T>
void adadelta_launch(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& acc,
                     const AdadeltaArgs& a) {
  AdadeltaK<T> k{(T)a.weight_decay, (T)a.rho, (T)(1.0 - a.rho), (T)a.eps, (T)(-a.lr), a.maximize};
  launch_lists<T, 4>(k, all_indices(params.size()), params, grads, {&sq, &acc});
}

template <class T>
void rprop_launch(const TensorList& params, const TensorList& grads, const TensorList& prevs,
                  const TensorList& step_sizes, const RpropArgs& a) {
  RpropK<T> k{(T)a.eta_minus, (T)a.eta_plus, (T)a.step_min, (T)a.step_max, a.maximize};
  launch_lists<T, 4>(k, all_indices(params.size()), params, grads, {&prevs, &step_sizes});
}

template <class T>
void asgd_launch(const TensorList& params, const TensorList& grads, const TensorList& axs,
                 const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a) {
  std::vector<std::pair<double, double>> keys;
  for (std::size_t i = 0; i < params.size(); ++i) keys.emplace_back(etas[i], mus[i]);
  for_each_key_group(keys, params.size(), [&](const std::pair<double, double>& key,
                                              const std::vector<std::size_t>& idx) {
    AsgdK<T> k{(T)a.weight_decay, (T)(1.0 - a.lambd * key.first), (T)(-key.first), (T)key.second, a.maximize,
               key.second == 1.0};
    launch_lists<T, 3>(k, idx, params, grads, {&axs});
  });
}

// float64 instantiations (optim_f64_cuda.cu).
void sgd_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& bufs,
                    const std::vector<uint8_t>& first, const SgdArgs& a);
void adam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                     const TensorList& vmax, const std::vector<int64_t>& steps, const AdamArgs& a);
void adagrad_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sums,
                        const std::vector<int64_t>& steps, const AdagradArgs& a);
void adam_capturable_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m,
                                const TensorList& v, const TensorList& vmax, const TensorList& steps,
                                const AdamArgs& a);
void rmsprop_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sq,
                        const TensorList& ga, const TensorList& bufs, const RmspropArgs& a);

void adamax_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& u,
                       const std::vector<int64_t>& steps, const AdamaxArgs& a);
void nadam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                      const std::vector<int64_t>& steps, const std::vector<double>& mu_products, const NadamArgs& a);
void radam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                      const std::vector<int64_t>& steps, const RadamArgs& a);
void adadelta_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sq,
                         const TensorList& acc, const AdadeltaArgs& a);
void rprop_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& prevs,
                      const TensorList& step_sizes, const RpropArgs& a);
void asgd_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& axs,
                     const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a);

}  // namespace dlcore::optim_cuda
