// Random tensors from a seedable generator (Philox4x32-10, see philox.h).
//
// The generator is (seed, offset): a call that draws n numbers uses blocks [offset, offset + blocks) and advances
// offset past them, so consecutive calls never reuse a block. dlcore.manual_seed(s) resets (seed = s, offset = 0).
// Layout: element i (row-major) of a float32 tensor uses block i / 4, word i % 4; float64 and normals use two
// words per value (block i / 2). The same numbers come out on every device and at every thread count.
#pragma once
#include <cstdint>
#include <mutex>
#include <type_traits>

#include "core/registry.h"
#include "core/tensor.h"
#include "ops/random/philox.h"

namespace dlcore {

struct Generator {
  uint64_t seed = 67280421310721ull;
  uint64_t offset = 0;
  std::mutex mutex;
  // Reserves `blocks` Philox blocks; returns the first.
  uint64_t reserve(uint64_t blocks) {
    std::lock_guard<std::mutex> g(mutex);
    uint64_t o = offset;
    offset += blocks;
    return o;
  }
  void manual_seed(uint64_t s) {
    std::lock_guard<std::mutex> g(mutex);
    seed = s;
    offset = 0;
  }
};

Generator& default_generator();

enum class RandomKind : int8_t { Uniform, Normal, Integer, Bernoulli };

struct RandomArgs {
  RandomKind kind = RandomKind::Uniform;
  double a = 0, b = 1;     // Uniform: [a, b); Normal: mean a, std b; Bernoulli: probability a
  int64_t low = 0, high = 1;  // Integer: [low, high)
  uint64_t seed = 0, offset = 0;
};

// a + d * u rounded as two operations: nvcc would contract it into one fused multiply-add and round differently
// from the CPU build (no FMA), so the device uses the explicitly rounded intrinsics.
DLCORE_HOSTDEV double affine_no_fma(double a, double d, double u) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, __dmul_rn(d, u));
#else
  return a + d * u;
#endif
}

// Elements per Philox block of a random tensor with element type T (16-bit floats are drawn as float32): 4 one-word
// values (float32 uniform, Bernoulli) or 2 two-word ones (float64 uniform, a Box-Muller pair, 64-bit integers).
template <class T>
DLCORE_HOSTDEV int64_t random_per_block(RandomKind kind) {
  if (kind == RandomKind::Bernoulli) return 4;
  if (kind == RandomKind::Uniform) return std::is_same_v<T, double> ? 2 : 4;
  return 2;
}

// The standard normal pair of block b (Box-Muller on its 4 words); element parity picks z0 or z1.
DLCORE_HOSTDEV void random_normal_pair(const Philox4& b, double* z0, double* z1) {
  double u1 = 1.0 - uniform_double(b.x[0], b.x[1]);  // (0, 1]
  double u2 = uniform_double(b.x[2], b.x[3]);
  box_muller(u1, u2, z0, z1);
}

template <class T>
DLCORE_HOSTDEV T random_round(double v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return T((float)v);
  else return (T)v;
}

// Element i of a random tensor with element type T under args, from its Philox block b (block
// offset + i / random_per_block<T>(kind)): the one definition for the CPU and CUDA kernels. Floating kinds are
// computed in double and then rounded to T (16-bit floats through float32).
template <class T>
DLCORE_HOSTDEV T random_from_block(const RandomArgs& a, const Philox4& b, int64_t i) {
  double v;
  switch (a.kind) {
    case RandomKind::Uniform: {
      if constexpr (std::is_same_v<T, double>) {
        int w = (int)(i % 2) * 2;
        v = affine_no_fma(a.a, a.b - a.a, uniform_double(philox_word(b, w), philox_word(b, w + 1)));
      } else {
        v = affine_no_fma(a.a, a.b - a.a, (double)uniform_float(philox_word(b, (int)(i % 4))));
      }
      break;
    }
    case RandomKind::Bernoulli: {
      v = uniform_float(philox_word(b, (int)(i % 4))) < (float)a.a ? 1.0 : 0.0;
      break;
    }
    case RandomKind::Normal: {
      double z0, z1;
      random_normal_pair(b, &z0, &z1);
      v = affine_no_fma(a.a, a.b, (i % 2) ? z1 : z0);
      break;
    }
    default: {  // Integer in [low, high): 64 random bits reduced by modulo (bias < range / 2^64)
      int w = (int)(i % 2) * 2;
      uint64_t r = ((uint64_t)philox_word(b, w) << 32) | philox_word(b, w + 1);
      uint64_t range = (uint64_t)(a.high - a.low);
      return (T)(a.low + (int64_t)(r % range));
    }
  }
  return random_round<T>(v);
}

// Element i alone (one Philox block per element: the CUDA kernels' form, one thread per element).
template <class T>
DLCORE_HOSTDEV T random_element(const RandomArgs& a, int64_t i) {
  const uint64_t blk = (uint64_t)i / (uint64_t)random_per_block<T>(a.kind);
  return random_from_block<T>(a, philox_block(a.seed, 0, a.offset + blk), i);
}

// Fills contiguous `out` from the Philox stream described by args.
using RandomFn = void(const Tensor& out, const RandomArgs& args);
inline Op<RandomFn> random_op{"random"};

// Blocks a tensor of numel elements of dtype uses under kind (for Generator::reserve).
uint64_t random_blocks(int64_t numel, DType dtype, RandomKind kind);

// A permutation of 0..n-1 (randperm) from n uniforms u in [0, 1) by Fisher-Yates: for i = n-1 down to 1, swap
// position i with j = floor(u[i] (i + 1)). O(n) (it was an argsort of the keys: 100000 elements 10 ms, torch 0.5).
Tensor permutation_from_uniforms(const Tensor& u);

// Frontend: a new tensor filled from gen (the default generator when null).
Tensor random_tensor(const IntList& shape, DType dtype, Device device, RandomArgs args, Generator* gen);

}  // namespace dlcore
