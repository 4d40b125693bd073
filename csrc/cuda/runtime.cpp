// The CUDA runtime layer (see runtime.h): the real build over cudart, the emulated build over host memory.
#if defined(DLCORE_WITH_CUDA)
#include "cuda/runtime.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/errors.h"

#if defined(DLCORE_CUDA_EMULATED)
#include <unistd.h>
#else
#include <cuda_runtime_api.h>
#endif

namespace dlcore::cuda {

namespace {
thread_local Stream t_stream;

std::string human_bytes(std::size_t n) {
  char buf[64];
  if (n >= (1ull << 30)) snprintf(buf, sizeof buf, "%.2f GiB", n / double(1ull << 30));
  else if (n >= (1ull << 20)) snprintf(buf, sizeof buf, "%.2f MiB", n / double(1ull << 20));
  else snprintf(buf, sizeof buf, "%zu bytes", n);
  return buf;
}
}  // namespace

Stream current_stream() { return t_stream; }
void set_current_stream(Stream s) { t_stream = s; }

#if defined(DLCORE_CUDA_EMULATED)
// ================================================================================================= emulated

bool is_emulated() { return true; }
int device_count() { return 1; }
bool is_available() { return true; }
std::string device_name(int) { return "dlcore SIMT emulator (CPU)"; }
std::string device_arch(int) { return "emulated"; }
int current_device() { return 0; }
void set_device(int index) {
  DLCORE_CHECK(index == 0, RuntimeError, "cuda: invalid device ordinal ", index,
               ": the emulated build has 1 device (cuda:0)");
}
Stream create_stream() {
  static char tokens[1];
  return Stream{tokens};  // a non-null handle; every emulated stream is synchronous
}
void destroy_stream(Stream) {}
void stream_synchronize(Stream) {}
bool stream_query(Stream) { return true; }
void device_synchronize() {}

void* raw_malloc(std::size_t nbytes, int device) {
  set_device(device);
  std::size_t size = (nbytes + 255) & ~std::size_t(255);
  if (size == 0) size = 256;
  void* p = std::aligned_alloc(256, size);
  DLCORE_CHECK(p, MemoryError, "cuda: out of memory: tried to allocate ", human_bytes(nbytes),
               " on the emulated device (host memory)");
  // Fresh device memory is poisoned (0xFF bytes: NaN for floats, -1 for integers) so that kernels reading
  // elements nobody wrote show up in tests.
  std::memset(p, 0xff, size);
  return p;
}
void raw_free(void* p, int) { std::free(p); }
void mem_info(int, std::size_t* free_bytes, std::size_t* total_bytes) {
  long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGE_SIZE);
  *total_bytes = (std::size_t)pages * ps;
  *free_bytes = (std::size_t)avail * ps;
}
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind) {
  if (nbytes) std::memmove(dst, src, nbytes);
}
void memset(void* dst, int value, std::size_t nbytes) { std::memset(dst, value, nbytes); }
void check_launch(const char*) {}
void check(int code, const char* what) {
  DLCORE_CHECK(code == 0, RuntimeError, "cuda: ", what, " failed (emulator error ", code, ")");
}
std::string explain_error(int code) { return "emulator error " + std::to_string(code); }

#else
// ================================================================================================= real CUDA

std::string explain_error(int code) {
  cudaError_t e = (cudaError_t)code;
  std::string base = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  switch (e) {
    case cudaErrorNoDevice:
      return base + ". No CUDA device is visible to this process (check nvidia-smi and CUDA_VISIBLE_DEVICES).";
    case cudaErrorInsufficientDriver: {
      int drv = 0, rt = 0;
      cudaDriverGetVersion(&drv);
      cudaRuntimeGetVersion(&rt);
      return base + ". The NVIDIA driver is too old for this build: dlcore was built with CUDA " +
             std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10) + ", the driver supports CUDA " +
             std::to_string(drv / 1000) + "." + std::to_string(drv % 1000 / 10) +
             " (update the driver or rebuild with an older toolkit).";
    }
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion: {
      int dev = 0, maj = 0, min = 0;
      cudaGetDevice(&dev);
      cudaDeviceGetAttribute(&maj, cudaDevAttrComputeCapabilityMajor, dev);
      cudaDeviceGetAttribute(&min, cudaDevAttrComputeCapabilityMinor, dev);
#ifdef DLCORE_CUDA_ARCHS_STR
      const char* archs = DLCORE_CUDA_ARCHS_STR;
#else
      const char* archs = "?";
#endif
      return base + ". The kernels were built for sm_{" + archs + "} but the device is sm_" + std::to_string(maj) +
             std::to_string(min) + ": rebuild with -DDLCORE_CUDA_ARCHS=\"" + std::to_string(maj) +
             std::to_string(min) + "\".";
    }
    case cudaErrorMemoryAllocation:
      return base + ". The device is out of memory.";
    case cudaErrorLaunchOutOfResources:
      return base + ". The kernel needs more registers or shared memory per block than the device has for this "
                    "block size.";
    case cudaErrorInvalidConfiguration:
      return base + ". The grid or block size is invalid (a block holds at most 1024 threads).";
    case cudaErrorIllegalAddress:
      return base + ". A kernel accessed memory out of bounds (run the tests under compute-sanitizer to find it); "
                    "the CUDA context is now unusable, restart the process.";
    default: return base;
  }
}

void check(int code, const char* what) {
  if (code == 0) return;
  cudaGetLastError();  // clear a non-sticky error
  DLCORE_THROW(RuntimeError, "cuda: ", what, " failed: ", explain_error(code));
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) DLCORE_THROW(RuntimeError, "cuda: launch of kernel ", kernel, " failed: ", explain_error(e));
}

bool is_emulated() { return false; }
int device_count() {
  static int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return c;
  }();
  return n;
}
bool is_available() { return device_count() > 0; }
std::string device_name(int index) {
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  return p.name;
}
std::string device_arch(int index) {
  int maj = 0, min = 0;
  check(cudaDeviceGetAttribute(&maj, cudaDevAttrComputeCapabilityMajor, index), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&min, cudaDevAttrComputeCapabilityMinor, index), "cudaDeviceGetAttribute");
  return "sm_" + std::to_string(maj) + std::to_string(min);
}
int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}
void set_device(int index) {
  int n = device_count();
  DLCORE_CHECK(index >= 0 && index < n, RuntimeError, "cuda: invalid device ordinal ", index, ": this machine has ",
               n, " CUDA device(s)");
  int cur = -1;
  cudaGetDevice(&cur);
  if (cur != index) check(cudaSetDevice(index), "cudaSetDevice");
}
Stream create_stream() {
  cudaStream_t s;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return Stream{s};
}
void destroy_stream(Stream s) {
  if (s.handle) cudaStreamDestroy(static_cast<cudaStream_t>(s.handle));
}
void stream_synchronize(Stream s) {
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(s.handle)), "cudaStreamSynchronize");
}
bool stream_query(Stream s) {
  cudaError_t e = cudaStreamQuery(static_cast<cudaStream_t>(s.handle));
  if (e == cudaErrorNotReady) return false;
  check(e, "cudaStreamQuery");
  return true;
}
void device_synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void* raw_malloc(std::size_t nbytes, int device) {
  set_device(device);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, nbytes == 0 ? 256 : nbytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    DLCORE_THROW(MemoryError, "cuda: out of memory: tried to allocate ", human_bytes(nbytes), " on cuda:", device,
                 " (", human_bytes(tot), " total, ", human_bytes(fr), " free)");
  }
  check(e, "cudaMalloc");
  return p;
}
void raw_free(void* p, int device) {
  set_device(device);
  cudaFree(p);
}
void mem_info(int device, std::size_t* free_bytes, std::size_t* total_bytes) {
  set_device(device);
  check(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind) {
  if (!nbytes) return;
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  cudaStream_t s = static_cast<cudaStream_t>(current_stream().handle);
  check(cudaMemcpyAsync(dst, src, nbytes, k, s), "cudaMemcpy");
  check(cudaStreamSynchronize(s), "cudaMemcpy (synchronize)");
}
void memset(void* dst, int value, std::size_t nbytes) {
  check(cudaMemsetAsync(dst, value, nbytes, static_cast<cudaStream_t>(current_stream().handle)), "cudaMemset");
}

#endif

}  // namespace dlcore::cuda
#endif  // DLCORE_WITH_CUDA
