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

template <class T>
void fill_random(T* out, int64_t n, const RandomArgs& a) {
  parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = random_element<T>(a, i);
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
