// The one include of every *_kernels.cuh and *_cuda.cu: CUDA keywords and built-ins (from nvcc, or from the SIMT
// emulator under g++), the launch helper, and the project macros kernels use.
//
// Kernel source convention (DESIGN.md):
//  - kernels are plain CUDA in <family>_kernels.cuh; launchers and registration in <family>_cuda.cu;
//  - launch only through DLCORE_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...): `kernel<<<...>>>` under
//    nvcc followed by a launch-error check naming the kernel; the emulator under g++. For a template kernel with
//    commas in its arguments, take its address first: `auto* k = &my_kernel<float, 4>; DLCORE_LAUNCH(k, ...)`;
//  - dynamic shared memory through DLCORE_DYNAMIC_SMEM(type, name) (poisoned with NaN in the emulator);
//  - unrolling through DLCORE_UNROLL / DLCORE_UNROLL_N(n) (core/common.h): `#pragma unroll` warns under g++ and
//    `#pragma GCC unroll` is an error under nvcc -Werror;
//  - inline PTX only through cuda/ptx.cuh (each wrapper has an emulated branch);
//  - float kernels must not touch double (ptxas -warn-double-usage is an error in the compile gate); float64
//    instantiations live in files named *_f64_cuda.cu, which are exempt.
#pragma once

#include "core/common.h"

#if defined(DLCORE_CUDA_EMULATED)
#include "cuda/emu/simt.h"
#define DLCORE_DEVICE_EMULATED 1
#elif defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#error "cuda/cuda_kernel.cuh is for .cu files (nvcc) or the emulated build (DLCORE_CUDA_EMULATED)"
#endif

#include <memory>
#include <tuple>
#include <utility>

#include "cuda/runtime.h"

#if defined(DLCORE_CUDA_EMULATED)
#include "cuda/emu/emu_api.h"
#endif

// Dynamic shared memory of the block as an array of `type` named `name`.
#if defined(DLCORE_CUDA_EMULATED)
#define DLCORE_DYNAMIC_SMEM(type, name) type* name = reinterpret_cast<type*>(::dlcore::emu::dynamic_smem())
#else
#define DLCORE_DYNAMIC_SMEM(type, name)                              \
  extern __shared__ __align__(16) unsigned char dlcore_dyn_smem_[]; \
  type* name = reinterpret_cast<type*>(dlcore_dyn_smem_)
#endif

namespace dlcore::cuda {

// Launches kernel over grid x block with smem bytes of dynamic shared memory on stream, then checks for a launch
// error (raising dlcore::RuntimeError with the kernel's name and a plain-words explanation).
template <class... Params>
struct Launch {
  void (*kernel)(Params...);
  const char* name;
  dim3 grid, block;
  std::size_t smem;
  Stream stream;

  template <class... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "DLCORE_LAUNCH: wrong number of kernel arguments");
#if defined(DLCORE_CUDA_EMULATED)
    struct Ctx {
      void (*k)(Params...);
      std::tuple<std::decay_t<Params>...> args;
    } ctx{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    emu::GridDims d{grid.x, grid.y, grid.z, block.x, block.y, block.z};
    // Every thread gets its own copies of the parameters, as on the device.
    void (*body)(void*) = [](void* c) {
      Ctx* x = static_cast<Ctx*>(c);
      std::apply(x->k, x->args);
    };
    if (is_capturing()) {  // CUDA graph capture: keep the kernel and a copy of its arguments for replay
      auto held = std::make_shared<Ctx>(std::move(ctx));
      const char* nm = name;
      std::size_t sm = smem;
      capture_record([held, nm, d, sm, body] { emu::run_grid(nm, d, sm, body, held.get()); });
      return;
    }
    emu::run_grid(name, d, smem, body, &ctx);
#else
    kernel<<<grid, block, smem, static_cast<cudaStream_t>(stream.handle)>>>(std::forward<Args>(args)...);
    check_launch(name);
#endif
  }
};

template <class... Params>
Launch<Params...> make_launch(void (*kernel)(Params...), const char* name, dim3 grid, dim3 block, std::size_t smem,
                              Stream stream) {
  return Launch<Params...>{kernel, name, grid, block, smem, stream};
}

// Blocks for n items at `threads` per block, capped (kernels use grid-stride loops beyond the cap).
inline unsigned blocks_for(int64_t n, int threads, int64_t cap = 65535) {
  int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : (b > cap ? cap : b));
}

}  // namespace dlcore::cuda

#define DLCORE_LAUNCH(kernel, grid, block, smem, stream) \
  ::dlcore::cuda::make_launch(kernel, #kernel, grid, block, smem, stream)
