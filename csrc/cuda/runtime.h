// The CUDA runtime layer: devices, streams, raw device memory, copies, and error checking with messages that explain
// the usual failures in plain words. Plain C++ (no CUDA headers), so host code, bindings and .cu files share it.
//
// Builds: DLCORE_WITH_CUDA (real: cudart) or DLCORE_WITH_CUDA + DLCORE_CUDA_EMULATED (the SIMT emulator: one
// "device" backed by host memory, every stream synchronous). Without DLCORE_WITH_CUDA nothing here is compiled.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace dlcore::cuda {

// A stream handle (cudaStream_t under the real runtime; null = the default stream).
struct Stream {
  void* handle = nullptr;
};

bool is_emulated();
int device_count();        // 0 when no device or no usable driver (never raises)
bool is_available();       // device_count() > 0
std::string device_name(int index);
// "sm_90" for the real device; "emulated" for the emulator.
std::string device_arch(int index);
int current_device();
void set_device(int index);  // raises RuntimeError naming the index and the device count

// The calling thread's current stream (the default stream unless set).
Stream current_stream();
void set_current_stream(Stream s);
Stream create_stream();
void destroy_stream(Stream s);
void stream_synchronize(Stream s);
bool stream_query(Stream s);  // true when all work on s has finished
void device_synchronize();

// Events (cudaEvent_t; emulated: the host time at record, the emulated streams being synchronous).
struct Event {
  void* handle = nullptr;
};
Event create_event(bool enable_timing);
void destroy_event(Event e);
void record_event(Event e, Stream s);
void event_synchronize(Event e);
bool event_query(Event e);  // true when the work recorded before it has finished
// Milliseconds between two recorded events; raises RuntimeError when one was not recorded.
float event_elapsed_ms(Event start, Event end);
void stream_wait_event(Stream s, Event e);

// CUDA graphs. Capture records the work issued on the current stream (real: cudaStreamBeginCapture on that stream,
// which must not be the legacy default stream; emulated: every kernel launch, device memset and device-to-device
// copy is recorded with copies of its arguments instead of running) until capture_end; replay runs it again on the
// current stream. Allocations during capture come from the graph's private pool (caching_allocator.h), which lives
// until the graph is destroyed. Host<->device copies during capture raise RuntimeError (CUDA forbids synchronous
// copies while capturing).
struct Graph;
Graph* graph_create();
void graph_destroy(Graph* g);  // also releases the private pool
void graph_capture_begin(Graph* g);
void graph_capture_end(Graph* g);
void graph_replay(Graph* g);
bool is_capturing();  // a capture is in progress (on this thread's current stream)
// Emulated builds: the launch macro hands the work of a kernel launch here while capturing.
void capture_record(std::function<void()> work);

// Raw device memory (the caching allocator sits on top). raw_malloc raises MemoryError with the sizes involved.
void* raw_malloc(std::size_t nbytes, int device);
void raw_free(void* p, int device);
// Bytes free and total on the device (emulated: host memory figures).
void mem_info(int device, std::size_t* free_bytes, std::size_t* total_bytes);

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Synchronous with respect to the host (on the current stream, then synchronised).
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind);
void memset(void* dst, int value, std::size_t nbytes);

// After a kernel launch: raises RuntimeError naming the kernel when the launch failed (real build only; the
// emulator raises from the launch itself).
void check_launch(const char* kernel);
// Raises RuntimeError when code (a cudaError_t) is an error; `what` names the call.
void check(int code, const char* what);
// The plain-words explanation of a CUDA error code.
std::string explain_error(int code);

}  // namespace dlcore::cuda
