#include <algorithm>

#include "core/parallel.h"
#include "ops/random/philox.h"
#include "ops/random/random.h"

namespace dlcore {

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

// One Philox block per 2 or 4 elements (and one Box-Muller per normal pair), not one per element (random_element,
// which the CUDA kernels keep): the same values; measured 1 thread, 1e7 float32, rand 236 -> 114 ms, randn 739 ->
// 495 ms (the double-precision log/sqrt/sin/cos of Box-Muller dominate what is left).
template <class T>
void fill_random(T* out, int64_t n, const RandomArgs& a) {
  const int64_t per = random_per_block<T>(a.kind);
  parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
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
