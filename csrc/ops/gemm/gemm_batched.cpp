// The tensor-level batched GEMM registered for the CPU (matmul, linear, addmm and the layers go through it):
// out[b] = alpha * a[b] @ b[b] + beta * out[b] (+ bias, ReLU), batch strides may be 0 (broadcast operands).
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_bf16.h"
#include "ops/gemm/gemm_kernel.h"

namespace dlcore {

namespace {

// The batch loop: many small products one per thread (each runs serially), few or large ones one after another
// with the threads inside each. range(i0, i1, threads) does products [i0, i1).
template <class Range>
void over_batches(int64_t B, double macs, bool shared_out, const Range& range) {
  const int nt = get_num_threads();
  if (B >= 2 * nt && macs < 256.0 * 256 * 256 && !shared_out) {
    parallel_for(0, B, 1, [&](int64_t i0, int64_t i1) { range(i0, i1, 1); });
  } else {
    range(0, B, 0);
  }
}

template <class T>
void batched_cpu(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  GemmEpilogue<T> ep;
  ep.bias_kind = args.bias_kind;
  ep.relu = args.relu;
  Tensor bias_c;
  if (bias && args.bias_kind != BiasKind::None) {
    bias_c = bias->contiguous();
    ep.bias = bias_c.data<T>();
  } else {
    ep.bias_kind = BiasKind::None;
  }
  const T* pa0 = a.data<T>();
  const T* pb0 = b.data<T>();
  T* pc0 = out.data<T>();
  auto one = [&](int64_t i, int threads) {
    gemm_detail::GemmCall<T> c{M, N, K, (T)args.alpha, pa0 + i * a.stride(0), a.stride(1), a.stride(2),
                               pb0 + i * b.stride(0), b.stride(1), b.stride(2), (T)args.beta,
                               pc0 + i * out.stride(0), out.stride(1), out.stride(2), ep, {}};
    c.opt.threads = threads;
    gemm_detail::gemm_call<T>(c);
  };
  over_batches(B, (double)M * N * K, out.stride(0) == 0, [&](int64_t i0, int64_t i1, int threads) {
    for (int64_t i = i0; i < i1; ++i) one(i, threads);
  });
}

// bfloat16 (AVX512-BF16 only; matmul's check sends other CPUs to the float32 route): float32 sums in registers,
// alpha/beta/bias/ReLU and one rounding to bfloat16 in the microkernel's store (gemm_bf16_avx512bf16.cpp).
void batched_bf16(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  Tensor bias_f;
  const float* pbias = nullptr;
  BiasKind kind = BiasKind::None;
  if (bias && args.bias_kind != BiasKind::None) {
    bias_f = bias->to(DType::Float32).contiguous();
    pbias = bias_f.data<float>();
    kind = args.bias_kind;
  }
  const auto* pa0 = reinterpret_cast<const uint16_t*>(a.data<BFloat16>());
  const auto* pb0 = reinterpret_cast<const uint16_t*>(b.data<BFloat16>());
  auto* pc0 = reinterpret_cast<uint16_t*>(out.data<BFloat16>());
  // the fused store needs out's unit column stride; float32 scratch only when K spans several KC blocks
  const bool fused = out.stride(2) == 1 || N == 1;
  const bool scratch = !fused || K > gemm_bf16::kc_block();
  auto one = [&](int64_t i, int threads, float* c) {
    const uint16_t* pa = pa0 + i * a.stride(0);
    const uint16_t* pb = pb0 + i * b.stride(0);
    uint16_t* po = pc0 + i * out.stride(0);
    if (fused) {
      gemm_bf16::gemm_bf16(M, N, K, pa, a.stride(1), a.stride(2), pb, b.stride(1), b.stride(2), po, out.stride(1),
                           (float)args.alpha, (float)args.beta, pbias, kind, args.relu, c, threads);
    } else {
      gemm_bf16::gemm_bf16_f32(M, N, K, pa, a.stride(1), a.stride(2), pb, b.stride(1), b.stride(2), c, N, threads);
      gemm_bf16::store_bf16(M, N, c, N, po, out.stride(1), out.stride(2), (float)args.alpha, (float)args.beta, pbias,
                            kind, args.relu);
    }
  };
  over_batches(B, (double)M * N * K, out.stride(0) == 0, [&](int64_t i0, int64_t i1, int threads) {
    std::vector<float> c(scratch ? (size_t)(M * N) : 0);
    for (int64_t i = i0; i < i1; ++i) one(i, threads, scratch ? c.data() : nullptr);
  });
}

void batched_gemm_cpu(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  if (out.dtype() == DType::BFloat16) {
    if (gemm_bf16::available()) return batched_bf16(out, a, b, bias, args);
    // no AVX512-BF16 (or a lower ISA pinned): float32 copies through the float32 GEMM, one rounding at the end
    // (matmul's check already sends Python's calls to that route; this serves the direct batched entry)
    Tensor o32 = out.to(DType::Float32);
    Tensor bias32 = bias ? bias->to(DType::Float32) : Tensor();
    batched_cpu<float>(o32, a.to(DType::Float32), b.to(DType::Float32), bias ? &bias32 : nullptr, args);
    Tensor(out).copy_from(o32);  // (a handle to the same storage)
    return;
  }
  dispatch_float(out.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    batched_cpu<T>(out, a, b, bias, args);
  });
}

KernelRegistrar reg_batched(batched_gemm_op, DeviceType::CPU, &batched_gemm_cpu, "cpu");

}  // namespace

bool gemm_bf16::available() {
  const CpuFeatures& f = cpu_features();
  return f.avx512bf16 && f.os_avx512 && cpu_isa() == Isa::AVX512;
}

}  // namespace dlcore
