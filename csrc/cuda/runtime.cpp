// The CUDA runtime layer (see runtime.h): the real build over cudart, the emulated build over host memory.
#if defined(DLCORE_WITH_CUDA)
#include "cuda/runtime.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/errors.h"
#include "cuda/caching_allocator.h"

#if defined(DLCORE_CUDA_EMULATED)
#include <unistd.h>

#include <chrono>
#include <vector>
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

// ---- events: host timestamps (every emulated stream is synchronous, so record time = completion time)
namespace {
struct EmuEvent {
  std::chrono::steady_clock::time_point t;
  bool recorded = false, timing = true;
};
EmuEvent* emu_event(Event e) {
  DLCORE_CHECK(e.handle, RuntimeError, "cuda: event was destroyed");
  return static_cast<EmuEvent*>(e.handle);
}
}  // namespace
Event create_event(bool enable_timing) {
  EmuEvent* e = new EmuEvent();
  e->timing = enable_timing;
  return Event{e};
}
void destroy_event(Event e) { delete static_cast<EmuEvent*>(e.handle); }
void record_event(Event e, Stream) {
  EmuEvent* x = emu_event(e);
  x->t = std::chrono::steady_clock::now();
  x->recorded = true;
}
void event_synchronize(Event e) { emu_event(e); }
bool event_query(Event e) {
  emu_event(e);
  return true;
}
float event_elapsed_ms(Event start, Event end) {
  EmuEvent *a = emu_event(start), *b = emu_event(end);
  DLCORE_CHECK(a->timing && b->timing, RuntimeError, "cuda: elapsed_time needs both events created with "
               "enable_timing=True");
  DLCORE_CHECK(a->recorded && b->recorded, RuntimeError, "cuda: elapsed_time: both events must be recorded first");
  return std::chrono::duration<float, std::milli>(b->t - a->t).count();
}
void stream_wait_event(Stream, Event e) { emu_event(e); }

// ---- graphs: the recorded work, run again at replay
struct Graph {
  std::vector<std::function<void()>> work;
  int pool = 0;
  bool captured = false;
};
namespace {
std::mutex g_capture_mutex;
Graph* g_capturing = nullptr;  // one capture at a time (the emulator runs everything on the calling thread)
}  // namespace
Graph* graph_create() { return new Graph(); }
void graph_destroy(Graph* g) {
  if (!g) return;
  {
    std::lock_guard<std::mutex> l(g_capture_mutex);
    if (g_capturing == g) {
      g_capturing = nullptr;
      graph_pool_end();
    }
  }
  if (g->pool) graph_pool_release(g->pool);
  delete g;
}
void graph_capture_begin(Graph* g) {
  std::lock_guard<std::mutex> l(g_capture_mutex);
  DLCORE_CHECK(!g_capturing, RuntimeError, "cuda graph: capture_begin while another capture is in progress");
  DLCORE_CHECK(!g->captured, RuntimeError, "cuda graph: this graph was already captured; reset() it first");
  if (!g->pool) g->pool = graph_pool_create();
  graph_pool_begin(g->pool);
  g->work.clear();
  g_capturing = g;
}
void graph_capture_end(Graph* g) {
  std::lock_guard<std::mutex> l(g_capture_mutex);
  DLCORE_CHECK(g_capturing == g, RuntimeError, "cuda graph: capture_end without a capture_begin on this graph");
  g_capturing = nullptr;
  graph_pool_end();
  g->captured = true;
}
void graph_replay(Graph* g) {
  DLCORE_CHECK(g->captured, RuntimeError, "cuda graph: replay() before the graph was captured");
  DLCORE_CHECK(!is_capturing(), RuntimeError, "cuda graph: replay() during a capture");
  for (auto& w : g->work) w();
}
bool is_capturing() {
  std::lock_guard<std::mutex> l(g_capture_mutex);
  return g_capturing != nullptr;
}
void capture_record(std::function<void()> work) {
  std::lock_guard<std::mutex> l(g_capture_mutex);
  DLCORE_CHECK(g_capturing, RuntimeError, "cuda graph: capture_record outside a capture");
  g_capturing->work.push_back(std::move(work));
}

void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind) {
  if (!nbytes) return;
  if (is_capturing()) {
    DLCORE_CHECK(kind == CopyKind::DeviceToDevice, RuntimeError, "cuda graph: a ",
                 kind == CopyKind::HostToDevice ? "host-to-device" : "device-to-host",
                 " copy during graph capture (CUDA forbids synchronous copies while capturing): copy new data into "
                 "the static input tensors before replay(), and read results after it, outside the captured region");
    capture_record([dst, src, nbytes] { std::memmove(dst, src, nbytes); });
    return;
  }
  std::memmove(dst, src, nbytes);
}
void memset(void* dst, int value, std::size_t nbytes) {
  if (is_capturing()) {
    capture_record([dst, value, nbytes] { std::memset(dst, value, nbytes); });
    return;
  }
  std::memset(dst, value, nbytes);
}
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
bool is_capturing() {
  // No device (or no usable driver): nothing can be capturing. CPU-only callers ask too (Adam's step refuses a
  // capture), and on a CUDA build without a driver the query itself would raise.
  if (!is_available()) return false;
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(static_cast<cudaStream_t>(current_stream().handle), &st), "cudaStreamIsCapturing");
  return st == cudaStreamCaptureStatusActive;
}
// A device-to-device copy is stream-ordered (no host synchronisation, so it can be captured); copies that involve
// the host synchronise, and raise a clear error during a capture.
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind) {
  if (!nbytes) return;
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  cudaStream_t s = static_cast<cudaStream_t>(current_stream().handle);
  if (kind != CopyKind::DeviceToDevice)
    DLCORE_CHECK(!is_capturing(), RuntimeError, "cuda graph: a ",
                 kind == CopyKind::HostToDevice ? "host-to-device" : "device-to-host",
                 " copy during graph capture (CUDA forbids synchronous copies while capturing): copy new data into "
                 "the static input tensors before replay(), and read results after it, outside the captured region");
  check(cudaMemcpyAsync(dst, src, nbytes, k, s), "cudaMemcpy");
  if (kind != CopyKind::DeviceToDevice) check(cudaStreamSynchronize(s), "cudaMemcpy (synchronize)");
}

// ---- events
Event create_event(bool enable_timing) {
  cudaEvent_t e;
  check(cudaEventCreateWithFlags(&e, enable_timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
  return Event{e};
}
void destroy_event(Event e) {
  if (e.handle) cudaEventDestroy(static_cast<cudaEvent_t>(e.handle));
}
void record_event(Event e, Stream s) {
  check(cudaEventRecord(static_cast<cudaEvent_t>(e.handle), static_cast<cudaStream_t>(s.handle)), "cudaEventRecord");
}
void event_synchronize(Event e) {
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(e.handle)), "cudaEventSynchronize");
}
bool event_query(Event e) {
  cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e.handle));
  if (r == cudaErrorNotReady) return false;
  check(r, "cudaEventQuery");
  return true;
}
float event_elapsed_ms(Event start, Event end) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.handle), static_cast<cudaEvent_t>(end.handle)),
        "cudaEventElapsedTime (both events must be recorded and created with enable_timing=True)");
  return ms;
}
void stream_wait_event(Stream s, Event e) {
  check(cudaStreamWaitEvent(static_cast<cudaStream_t>(s.handle), static_cast<cudaEvent_t>(e.handle), 0),
        "cudaStreamWaitEvent");
}

// ---- graphs: stream capture on the current (side) stream, instantiated once, launched at replay
struct Graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaStream_t stream = nullptr;
  int pool = 0;
  bool capturing = false;
};
Graph* graph_create() { return new Graph(); }
void graph_destroy(Graph* g) {
  if (!g) return;
  if (g->capturing) {
    cudaGraph_t dead = nullptr;
    cudaStreamEndCapture(g->stream, &dead);
    if (dead) cudaGraphDestroy(dead);
    cudaGetLastError();
    graph_pool_end();
  }
  if (g->exec) {
    cudaDeviceSynchronize();  // a replay may still use the pool's memory
    cudaGraphExecDestroy(g->exec);
  }
  if (g->graph) cudaGraphDestroy(g->graph);
  if (g->pool) graph_pool_release(g->pool);
  delete g;
}
void graph_capture_begin(Graph* g) {
  DLCORE_CHECK(!g->exec && !g->capturing, RuntimeError, "cuda graph: this graph was already captured; reset() it "
               "first");
  cudaStream_t s = static_cast<cudaStream_t>(current_stream().handle);
  DLCORE_CHECK(s != nullptr, RuntimeError, "cuda graph: cannot capture on the default stream; capture on a side "
               "stream (dlcore.cuda.graph() does this)");
  if (!g->pool) g->pool = graph_pool_create();
  graph_pool_begin(g->pool);
  // Relaxed: the caching allocator may call cudaMalloc for the graph's pool while capturing.
  cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed);
  if (e != cudaSuccess) {
    graph_pool_end();
    check(e, "cudaStreamBeginCapture");
  }
  g->stream = s;
  g->capturing = true;
}
void graph_capture_end(Graph* g) {
  DLCORE_CHECK(g->capturing, RuntimeError, "cuda graph: capture_end without a capture_begin on this graph");
  g->capturing = false;
  graph_pool_end();
  check(cudaStreamEndCapture(g->stream, &g->graph), "cudaStreamEndCapture (was a synchronising call made while "
        "capturing?)");
  check(cudaGraphInstantiate(&g->exec, g->graph, 0), "cudaGraphInstantiate");
}
void graph_replay(Graph* g) {
  DLCORE_CHECK(g->exec, RuntimeError, "cuda graph: replay() before the graph was captured");
  check(cudaGraphLaunch(g->exec, static_cast<cudaStream_t>(current_stream().handle)), "cudaGraphLaunch");
}
void capture_record(std::function<void()>) {
  DLCORE_THROW(RuntimeError, "cuda graph: capture_record is for the emulated build");
}
void memset(void* dst, int value, std::size_t nbytes) {
  check(cudaMemsetAsync(dst, value, nbytes, static_cast<cudaStream_t>(current_stream().handle)), "cudaMemset");
}

#endif

}  // namespace dlcore::cuda
#endif  // DLCORE_WITH_CUDA
