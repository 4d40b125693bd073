#include <algorithm>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/random/philox.h"
#include "ops/random/random.h"

namespace dlcore {

namespace avx512 {
void normal_f32_groups(float* out, uint64_t first_block, int64_t groups, uint64_t seed, double mean, double std);
void uniform_f32_groups(float* out, uint64_t first_block, int64_t groups, uint64_t seed, double lo, double d);
void uniform_f64_groups(double* out, uint64_t first_block, int64_t groups, uint64_t seed, double lo, double d);
}

Generator& default_generator() {
  static Generator* g = new Generator();
  return *g;
}

uint64_t random_blocks(int64_t numel, DType dtype, RandomKind kind) {
  bool two_words = dtype == DType::Float64 || kind == RandomKind::Normal || kind == RandomKind::Integer;
  int per = two_words ? 2 : 4;
  return (uint64_t)((numel + per - 1) / per);
}

namespace {

// Elements [i0, i1) of a random tensor, scalar: one Philox block per `per` elements (2 or 4) and one Box-Muller per
// normal pair, not one block per element (random_element, which the CUDA kernels keep): the same values; measured
// 1 thread, 1e7 float32, rand 236 -> 114 ms, randn 739 -> 495 ms (the double-precision log/sqrt/sin/cos of
// Box-Muller dominate what is left).
template <class T>
void fill_random_range(T* out, int64_t i0, int64_t i1, const RandomArgs& a, int64_t per) {
  for (int64_t i = i0; i < i1;) {
    const uint64_t blk = (uint64_t)(i / per);
    const Philox4 b = philox_block(a.seed, 0, a.offset + blk);
    const int64_t e = std::min<int64_t>(i1, (int64_t)(blk + 1) * per);
    if (a.kind == RandomKind::Normal) {
      double z[2];
      random_normal_pair(b, &z[0], &z[1]);
      for (; i < e; ++i) out[i] = random_round<T>(affine_no_fma(a.a, a.b, z[i % 2]));
    } else {
      for (; i < e; ++i) out[i] = random_from_block<T>(a, b, i);
    }
  }
}

template <class T>
void fill_random(T* out, int64_t n, const RandomArgs& a) {
  const int64_t per = random_per_block<T>(a.kind);
  // float32 normals and uniforms on AVX-512: whole groups (64 normals from 32 blocks, 256 uniforms from 64) by
  // random_avx512.cpp (the same values: a vector Box-Muller in double, the vector Philox); the ragged ends scalar.
  // 1e7 float32, 1 thread (Zen 5): randn 187 -> 17 ms, rand 32 -> 3.2 ms (torch 42 / 41 ms).
  const bool avx512 = std::is_same_v<T, float> && cpu_isa() == Isa::AVX512;
  const int64_t G = a.kind == RandomKind::Normal ? 64 : a.kind == RandomKind::Uniform ? 256 : 0;
  parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
    if constexpr (std::is_same_v<T, float>) {
      if (avx512 && G) {
        const int64_t v0 = (i0 + G - 1) / G * G, groups = std::max<int64_t>(0, (i1 - v0) / G);
        if (groups > 0) {
          fill_random_range(out, i0, v0, a, per);
          if (G == 64) avx512::normal_f32_groups(out + v0, a.offset + (uint64_t)(v0 / 2), groups, a.seed, a.a, a.b);
          else avx512::uniform_f32_groups(out + v0, a.offset + (uint64_t)(v0 / 4), groups, a.seed, a.a, a.b - a.a);
          fill_random_range(out, v0 + G * groups, i1, a, per);
          return;
        }
      }
    }
    if constexpr (std::is_same_v<T, double>) {  // float64 uniforms: whole groups of 128 (64 blocks)
      if (cpu_isa() == Isa::AVX512 && a.kind == RandomKind::Uniform) {
        const int64_t v0 = (i0 + 127) / 128 * 128, groups = std::max<int64_t>(0, (i1 - v0) / 128);
        if (groups > 0) {
          fill_random_range(out, i0, v0, a, per);
          avx512::uniform_f64_groups(out + v0, a.offset + (uint64_t)(v0 / 2), groups, a.seed, a.a, a.b - a.a);
          fill_random_range(out, v0 + 128 * groups, i1, a, per);
          return;
        }
      }
    }
    fill_random_range(out, i0, i1, a, per);
  });
}

void random_cpu(const Tensor& out, const RandomArgs& a) {
  dispatch_dtype(out.dtype(), "random", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      Tensor tmp = Tensor::empty(out.shape(), DType::Float32, out.device());
      fill_random<float>(tmp.data<float>(), tmp.numel(), a);
      const_cast<Tensor&>(out).copy_from(tmp);
    } else {
      fill_random<T>(out.data<T>(), out.numel(), a);
    }
  });
}

KernelRegistrar reg_random(random_op, DeviceType::CPU, &random_cpu, "cpu");

}  // namespace

Tensor permutation_from_uniforms(const Tensor& u) {
  DLCORE_CHECK(u.dim() == 1 && u.dtype() == DType::Float64 && u.device().type == DeviceType::CPU, ValueError,
               "permutation_from_uniforms(): a 1-D float64 cpu tensor is needed, got ", u.shape().str(), " ",
               dtype_name(u.dtype()));
  const Tensor uc = u.contiguous();
  const int64_t n = uc.numel();
  Tensor out = Tensor::empty({n}, DType::Int64, Device());
  int64_t* p = out.data<int64_t>();
  const double* r = uc.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = std::min<int64_t>((int64_t)(r[i] * (double)(i + 1)), i);
    std::swap(p[i], p[j]);
  }
  return out;
}

Tensor random_tensor(const IntList& shape, DType dtype, Device device, RandomArgs args, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor out = Tensor::empty(shape, dtype, device);
  if (out.numel() == 0) return out;
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    args.seed = g.seed;
    args.offset = g.offset;
    g.offset += random_blocks(out.numel(), dtype, args.kind);
  }
  random_op.get(device.type)(out, args);
  return out;
}

}  // namespace dlcore
