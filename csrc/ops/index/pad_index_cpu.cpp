// CPU kernels of the index-map padding (reflect / replicate / circular F.pad, see pad_index in index.h): every
// output row of a plane reads one source row (the maps of the outer padded dims), and within a row the source
// columns are one contiguous run (the interior: a memcpy / a vector add) plus a few border elements on each side.
#include <cstring>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "ops/index/index.h"

namespace dlcore {

namespace {

// The longest run of map with map[j + 1] == map[j] + 1: [ja, jb), copied as a block from map[ja].
void interior_run(const std::vector<int64_t>& map, int64_t& ja, int64_t& jb) {
  int64_t n = (int64_t)map.size(), best_a = 0, best_b = 0;
  for (int64_t a = 0; a < n;) {
    int64_t b = a + 1;
    while (b < n && map[b] == map[b - 1] + 1) ++b;
    if (b - a > best_b - best_a) best_a = a, best_b = b;
    a = b;
  }
  ja = best_a, jb = best_b;
}

// The three maps of a [P, A, B, C] problem (k < 3 padded dims: identity maps of size 1 in front).
struct PadPlan {
  int64_t planes = 1;
  int64_t in_sz[3] = {1, 1, 1}, out_sz[3] = {1, 1, 1};
  std::vector<int64_t> map[3];
  int64_t ja = 0, jb = 0;
};

PadPlan make_plan(const IntList& in_shape, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p;
  int k = (int)maps.size(), nd = (int)in_shape.size();
  for (int d = 0; d < nd - k; ++d) p.planes *= in_shape[d];
  for (int j = 0; j < 3; ++j) {
    int src = j - (3 - k);  // which of the k maps fills slot j
    if (src < 0) {
      p.map[j] = {0};
      continue;
    }
    p.map[j] = maps[src];
    p.in_sz[j] = in_shape[nd - k + src];
    p.out_sz[j] = (int64_t)maps[src].size();
  }
  interior_run(p.map[2], p.ja, p.jb);
  return p;
}

template <class T>
void gather_rows(const PadPlan& p, const char* src_base, char* out_base) {
  const int64_t A = p.out_sz[0], B = p.out_sz[1], C = p.out_sz[2];
  const int64_t in_plane = p.in_sz[0] * p.in_sz[1] * p.in_sz[2], out_plane = A * B * C;
  const int64_t* mc = p.map[2].data();
  const int64_t ja = p.ja, jb = p.jb, run = jb - ja;
  parallel_for(0, p.planes * A, 64 * 1024 / (B * C + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t pa = lo; pa < hi; ++pa) {
      int64_t pl = pa / A, a = pa % A;
      const T* sp = reinterpret_cast<const T*>(src_base) + pl * in_plane + p.map[0][a] * p.in_sz[1] * p.in_sz[2];
      T* op = reinterpret_cast<T*>(out_base) + pl * out_plane + a * B * C;
      for (int64_t b = 0; b < B; ++b, op += C) {
        const T* s = sp + p.map[1][b] * p.in_sz[2];
        for (int64_t j = 0; j < ja; ++j) op[j] = s[mc[j]];
        if (run) std::memcpy(op + ja, s + mc[ja], run * sizeof(T));
        for (int64_t j = jb; j < C; ++j) op[j] = s[mc[j]];
      }
    }
  });
}

template <class T>
void scatter_add_rows(const PadPlan& p, const char* g_base, char* gin_base) {
  const int64_t A = p.out_sz[0], B = p.out_sz[1], C = p.out_sz[2];
  const int64_t in_plane = p.in_sz[0] * p.in_sz[1] * p.in_sz[2], out_plane = A * B * C;
  const int64_t* mc = p.map[2].data();
  const int64_t ja = p.ja, jb = p.jb;
  // Planes are independent (each owns its slice of the input gradient); within a plane rows accumulate in order.
  parallel_for(0, p.planes, 1024 * 1024 / (out_plane + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      T* dp = reinterpret_cast<T*>(gin_base) + pl * in_plane;
      std::memset(static_cast<void*>(dp), 0, in_plane * sizeof(T));
      const T* gp = reinterpret_cast<const T*>(g_base) + pl * out_plane;
      for (int64_t a = 0; a < A; ++a) {
        T* da = dp + p.map[0][a] * p.in_sz[1] * p.in_sz[2];
        for (int64_t b = 0; b < B; ++b, gp += C) {
          T* d = da + p.map[1][b] * p.in_sz[2];
          for (int64_t j = 0; j < ja; ++j) d[mc[j]] += gp[j];
          T* di = d + (jb > ja ? mc[ja] : 0);
          const T* gi = gp + ja;
          for (int64_t j = 0, n = jb - ja; j < n; ++j) di[j] += gi[j];
          for (int64_t j = jb; j < C; ++j) d[mc[j]] += gp[j];
        }
      }
    }
  });
}

void pad_index_cpu(const Tensor& out, const Tensor& src, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p = make_plan(src.shape(), maps);
  if (out.numel() == 0) return;
  const char* s = static_cast<const char*>(src.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  switch (src.itemsize()) {
    case 1: gather_rows<uint8_t>(p, s, o); break;
    case 2: gather_rows<uint16_t>(p, s, o); break;
    case 4: gather_rows<uint32_t>(p, s, o); break;
    default: gather_rows<uint64_t>(p, s, o); break;
  }
}

void pad_index_backward_cpu(const Tensor& gin, const Tensor& g, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p = make_plan(gin.shape(), maps);
  if (gin.numel() == 0) return;
  const char* gs = static_cast<const char*>(g.raw_data());
  char* d = static_cast<char*>(gin.raw_data());
  switch (gin.dtype()) {
    case DType::Float32: scatter_add_rows<float>(p, gs, d); break;
    case DType::Float64: scatter_add_rows<double>(p, gs, d); break;
    default:
      DLCORE_THROW(TypeError, "pad(): the backward of reflect/replicate/circular padding takes float32 or float64, got ",
                   dtype_name(gin.dtype()));
  }
}

}  // namespace

static KernelRegistrar reg_pf(pad_index_op, DeviceType::CPU, &pad_index_cpu, "cpu");
static KernelRegistrar reg_pb(pad_index_backward_op, DeviceType::CPU, &pad_index_backward_cpu, "cpu");

}  // namespace dlcore
