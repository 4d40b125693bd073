// dlcore._C's CUDA services (dlcore.cuda): devices, streams, synchronisation, the caching allocator's statistics,
// the emulator's schedule, and the test-only kernels (_emu_*). Without a CUDA build only _cuda_is_available exists
// (returning False).
#include "bindings/binder.h"
#include "bindings/py_tensor.h"

#if defined(DLCORE_WITH_CUDA)
#include "cuda/caching_allocator.h"
#include "cuda/runtime.h"
#include "cuda/selftest.h"
#if defined(DLCORE_CUDA_EMULATED)
#include "cuda/emu/emu_api.h"
#endif
#endif

namespace dlcore {

namespace {

#if defined(DLCORE_WITH_CUDA)
const Tensor& cuda_tensor(py::handle h, const char* arg) {
  Tensor& t = as_tensor(h, "_emu", arg);
  DLCORE_CHECK(t.device().is_cuda() && t.is_contiguous(), ValueError, "_emu: argument ", arg,
               " must be a contiguous cuda tensor, got ", t.describe());
  return t;
}
#endif

void bind_cuda(py::module_& m) {
#if defined(DLCORE_WITH_CUDA)
  m.def("_cuda_is_available", &cuda::is_available);
  m.def("_cuda_device_count", &cuda::device_count);
  m.def("_cuda_get_device_name", [](int i) {
    DLCORE_CHECK(i >= 0 && i < cuda::device_count(), RuntimeError, "cuda.get_device_name: invalid device ", i, " (",
                 cuda::device_count(), " device(s))");
    return cuda::device_name(i);
  });
  m.def("_cuda_get_arch", [](int i) { return cuda::device_arch(i); });
  m.def("_cuda_current_device", &cuda::current_device);
  m.def("_cuda_set_device", &cuda::set_device);
  m.def("_cuda_synchronize", []() {
    py::gil_scoped_release nogil;
    cuda::device_synchronize();
  });
  m.def("_cuda_empty_cache", &cuda::empty_cache);
  m.def("_cuda_memory_stats", [](int dev) {
    cuda::MemoryStats s = cuda::memory_stats(dev);
    py::dict d;
    d["allocated_bytes"] = s.allocated;
    d["peak_allocated_bytes"] = s.peak;
    d["reserved_bytes"] = s.reserved;
    d["cached_bytes"] = s.cached;
    return d;
  });
  m.def("_cuda_reset_peak_memory_stats", &cuda::reset_peak_memory_stats);
  m.def("_cuda_mem_get_info", [](int dev) {
    std::size_t fr = 0, tot = 0;
    cuda::mem_info(dev, &fr, &tot);
    return py::make_tuple(fr, tot);
  });
  // Streams: handles as integers.
  m.def("_cuda_stream_create", []() { return (uintptr_t)cuda::create_stream().handle; });
  m.def("_cuda_stream_destroy", [](uintptr_t h) { cuda::destroy_stream(cuda::Stream{(void*)h}); });
  m.def("_cuda_stream_synchronize", [](uintptr_t h) {
    py::gil_scoped_release nogil;
    cuda::stream_synchronize(cuda::Stream{(void*)h});
  });
  m.def("_cuda_stream_query", [](uintptr_t h) { return cuda::stream_query(cuda::Stream{(void*)h}); });
  m.def("_cuda_current_stream", []() { return (uintptr_t)cuda::current_stream().handle; });
  m.def("_cuda_set_stream", [](uintptr_t h) { cuda::set_current_stream(cuda::Stream{(void*)h}); });
  // Events and graphs: handles as integers (dlcore.cuda.Event / CUDAGraph own them).
  m.def("_cuda_event_create", [](bool timing) { return (uintptr_t)cuda::create_event(timing).handle; });
  m.def("_cuda_event_destroy", [](uintptr_t e) { cuda::destroy_event(cuda::Event{(void*)e}); });
  m.def("_cuda_event_record", [](uintptr_t e, uintptr_t s) {
    cuda::record_event(cuda::Event{(void*)e}, cuda::Stream{(void*)s});
  });
  m.def("_cuda_event_synchronize", [](uintptr_t e) {
    py::gil_scoped_release nogil;
    cuda::event_synchronize(cuda::Event{(void*)e});
  });
  m.def("_cuda_event_query", [](uintptr_t e) { return cuda::event_query(cuda::Event{(void*)e}); });
  m.def("_cuda_event_elapsed_ms", [](uintptr_t a, uintptr_t b) {
    return cuda::event_elapsed_ms(cuda::Event{(void*)a}, cuda::Event{(void*)b});
  });
  m.def("_cuda_stream_wait_event", [](uintptr_t s, uintptr_t e) {
    cuda::stream_wait_event(cuda::Stream{(void*)s}, cuda::Event{(void*)e});
  });
  m.def("_cuda_graph_create", []() { return (uintptr_t)cuda::graph_create(); });
  m.def("_cuda_graph_destroy", [](uintptr_t g) { cuda::graph_destroy((cuda::Graph*)g); });
  m.def("_cuda_graph_capture_begin", [](uintptr_t g) { cuda::graph_capture_begin((cuda::Graph*)g); });
  m.def("_cuda_graph_capture_end", [](uintptr_t g) { cuda::graph_capture_end((cuda::Graph*)g); });
  m.def("_cuda_graph_replay", [](uintptr_t g) {
    py::gil_scoped_release nogil;
    cuda::graph_replay((cuda::Graph*)g);
  });
  m.def("_cuda_is_capturing", []() { return cuda::is_capturing(); });

#if defined(DLCORE_CUDA_EMULATED)
  m.def("_emu_set_schedule", &emu::set_schedule);
  m.def("_emu_get_schedule", &emu::get_schedule);
  m.def("_emu_context_kind", []() { return std::string(emu::context_kind()); });
  m.def("_emu_stats", []() {
    emu::Stats s = emu::stats();
    py::dict d;
    d["launches"] = s.launches;
    d["blocks"] = s.blocks;
    d["threads"] = s.threads;
    d["switches"] = s.switches;
    d["barriers"] = s.barriers;
    d["warp_ops"] = s.warp_ops;
    return d;
  });
  m.def("_emu_reset_stats", &emu::reset_stats);
#endif

  // Test-only kernels (tests/test_emu_selftest.py; also run on a real device by scripts/gpu_check.sh).
  using py::arg;
  m.def("_emu_neighbour", [](py::handle in, py::handle out, int block, bool use_barrier) {
    selftest::neighbour(cuda_tensor(in, "in"), cuda_tensor(out, "out"), block, use_barrier);
  });
  m.def("_emu_warp_ops", [](py::handle vals, py::handle pred, py::handle out, int src, int delta, int xmask,
                            int width) {
    selftest::warp_ops(cuda_tensor(vals, "vals"), cuda_tensor(pred, "pred"), cuda_tensor(out, "out"), src, delta,
                       xmask, width);
  });
  m.def("_emu_shfl_float", [](py::handle x, py::handle y, py::handle ox, py::handle oy) {
    selftest::shfl_float(cuda_tensor(x, "x"), cuda_tensor(y, "y"), cuda_tensor(ox, "ox"), cuda_tensor(oy, "oy"));
  });
  m.def("_emu_early_exit_sum", [](py::handle in, py::handle out, int block, int active) {
    selftest::early_exit_sum(cuda_tensor(in, "in"), cuda_tensor(out, "out"), block, active);
  });
  m.def("_emu_bad_mask", [](py::handle out) { selftest::bad_mask(cuda_tensor(out, "out")); });
  m.def("_emu_deadlock", [](py::handle out) { selftest::deadlock(cuda_tensor(out, "out")); });
  m.def("_emu_atomics", [](py::handle x, py::handle xi, py::handle count, py::handle fsum, py::handle maxv,
                           py::handle ucount, py::handle cas, int block) {
    selftest::atomics(cuda_tensor(x, "x"), cuda_tensor(xi, "xi"), cuda_tensor(count, "count"),
                      cuda_tensor(fsum, "fsum"), cuda_tensor(maxv, "maxv"), cuda_tensor(ucount, "ucount"),
                      cuda_tensor(cas, "cas"), block);
  });
  m.def("_emu_dynamic_smem", [](py::handle in, py::handle out, int block, int written) {
    selftest::dynamic_smem(cuda_tensor(in, "in"), cuda_tensor(out, "out"), block, written);
  });
  m.def("_emu_sync_count", [](py::handle pred, py::handle out) {
    selftest::sync_count(cuda_tensor(pred, "pred"), cuda_tensor(out, "out"));
  });
  m.def("_emu_mma", [](py::handle A, py::handle B, py::handle C, py::handle D, int kind) {
    selftest::mma(cuda_tensor(A, "A"), cuda_tensor(B, "B"), cuda_tensor(C, "C"), cuda_tensor(D, "D"), kind);
  });
  m.def("_emu_ldmatrix", [](py::handle M, py::handle out, int n, bool trans) {
    DLCORE_CHECK(n == 1 || n == 2 || n == 4, ValueError, "_emu_ldmatrix: n must be 1, 2 or 4");
    selftest::ldmatrix(cuda_tensor(M, "M"), cuda_tensor(out, "out"), n, trans);
  });
  m.def("_emu_cp_async", [](py::handle in, py::handle out, int block, bool skip_wait) {
    selftest::cp_async(cuda_tensor(in, "in"), cuda_tensor(out, "out"), block, skip_wait);
  });
  m.def("_emu_barrier_rounds", [](py::handle out, int block, int rounds) {
    Tensor t = cuda_tensor(out, "out");
    py::gil_scoped_release nogil;
    selftest::barrier_rounds(t, block, rounds);
  });
  m.def("_emu_oob_write", [](py::handle out) { selftest::oob_write(cuda_tensor(out, "out")); });
#else
  m.def("_cuda_is_available", []() { return false; });
  m.def("_cuda_device_count", []() { return 0; });
#endif
}

BindingRegistrar reg("cuda", &bind_cuda);

}  // namespace

}  // namespace dlcore
