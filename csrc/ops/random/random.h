// Random tensors from a seedable generator (Philox4x32-10, see philox.h).
//
// The generator is (seed, offset): a call that draws n numbers uses blocks [offset, offset + blocks) and advances
// offset past them, so consecutive calls never reuse a block. dlcore.manual_seed(s) resets (seed = s, offset = 0).
// Layout: element i (row-major) of a float32 tensor uses block i / 4, word i % 4; float64 and normals use two
// words per value (block i / 2). The same numbers come out on every device and at every thread count.
#pragma once
#include <cstdint>
#include <mutex>

#include "core/registry.h"
#include "core/tensor.h"

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

// Fills contiguous `out` from the Philox stream described by args.
using RandomFn = void(const Tensor& out, const RandomArgs& args);
inline Op<RandomFn> random_op{"random"};

// Blocks a tensor of numel elements of dtype uses under kind (for Generator::reserve).
uint64_t random_blocks(int64_t numel, DType dtype, RandomKind kind);

// Frontend: a new tensor filled from gen (the default generator when null).
Tensor random_tensor(const IntList& shape, DType dtype, Device device, RandomArgs args, Generator* gen);

}  // namespace dlcore
