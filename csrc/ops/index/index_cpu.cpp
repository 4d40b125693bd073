// CPU index kernels (see index.h): offset computation with bounds checks, and the strided gather/scatter loops
// over the elementwise iterator (gathers split over threads; scatters stay on one thread).
#include "ops/index/index.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "ops/elementwise/cpu_iter.h"

namespace dlcore {

Tensor index_offsets(const std::vector<Tensor>& idx, const std::vector<int64_t>& sizes,
                     const std::vector<int64_t>& strides, const char* op, bool allow_negative, int dim_label) {
  DLCORE_CHECK(!idx.empty() && idx.size() == sizes.size() && sizes.size() == strides.size(), ValueError, op,
               "(): internal error: index/size/stride lists differ in length");
  const IntList& shape = idx[0].shape();
  for (std::size_t k = 0; k < idx.size(); ++k) {
    DLCORE_CHECK(idx[k].dtype() == DType::Int64, TypeError, op, "(): indices must be int64, got ",
                 dtype_name(idx[k].dtype()));
    DLCORE_CHECK(idx[k].shape() == shape, ValueError, op, "(): index tensors have different shapes ",
                 idx[k].shape().str(), " and ", shape.str());
  }
  auto fail = [&](int64_t k, int64_t v) {
    DLCORE_THROW(IndexError, op, "(): index ", v, " is out of bounds for dimension ", dim_label < 0 ? k : dim_label,
                 " with size ", sizes[k]);
  };
  const Device dev = idx[0].device();
  bool one_device = true;
  for (const Tensor& t : idx) one_device = one_device && t.device() == dev;
  if (dev.type != DeviceType::CPU && one_device && index_offsets_op.has(dev.type)) {  // only a fault comes back
    Tensor off = Tensor::empty(shape, DType::Int64, dev);
    if (off.numel() == 0) return off;
    IndexFault f = index_offsets_op.get(dev.type)(off, idx, sizes, strides, allow_negative);
    if (f.k >= 0) fail(f.k, f.value);
    return off;
  }
  // Computed (and bounds-checked) on the host, then moved to the indices' device.
  Tensor off = Tensor::empty(shape, DType::Int64, Device());
  int64_t n = off.numel();
  int64_t* o = off.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i] = 0;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    Tensor c = idx[k].to(Device()).contiguous();
    const int64_t* p = c.data<int64_t>();
    int64_t size = sizes[k], stride = strides[k];
    const int64_t lo = allow_negative ? -size : 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = p[i];
      if (DLCORE_UNLIKELY(v < lo || v >= size)) fail((int64_t)k, v);
      if (v < 0) v += size;
      o[i] += v * stride;
    }
  }
  return off.to(dev);
}

namespace {

template <class U>
void gather_loop(const CpuLoop& L) {
  run_cpu_loop(L, [](char** ptrs, const int64_t* s, int64_t n) {
    char* out = ptrs[0];
    const char* src = ptrs[1];
    const char* off = ptrs[2];
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = *reinterpret_cast<const int64_t*>(off + i * s[2]);
      std::memcpy(out + i * s[0], src + i * s[1] + o * (int64_t)sizeof(U), sizeof(U));
    }
  });
}

void gather_by_offset_cpu(const Tensor& out, const Tensor& src, const Tensor& off) {
  DLCORE_CHECK(out.shape() == src.shape() && out.shape() == off.shape(), ValueError,
               "gather_by_offset(): shapes differ: ", out.shape().str(), ", ", src.shape().str(), ", ",
               off.shape().str());
  DLCORE_CHECK(out.dtype() == src.dtype(), TypeError, "gather_by_offset(): dtypes differ");
  CpuLoop L = make_cpu_loop({&out, &src, &off});
  switch (out.itemsize()) {
    case 1: gather_loop<uint8_t>(L); break;
    case 2: gather_loop<uint16_t>(L); break;
    case 4: gather_loop<uint32_t>(L); break;
    default: gather_loop<uint64_t>(L); break;
  }
}

template <class U>
void scatter_copy_loop(const CpuLoop& L) {
  run_cpu_loop(
      L,
      [](char** ptrs, const int64_t* s, int64_t n) {
        char* dst = ptrs[0];
        const char* off = ptrs[1];
        const char* val = ptrs[2];
        for (int64_t i = 0; i < n; ++i) {
          int64_t o = *reinterpret_cast<const int64_t*>(off + i * s[1]);
          std::memcpy(dst + i * s[0] + o * (int64_t)sizeof(U), val + i * s[2], sizeof(U));
        }
      },
      std::numeric_limits<int64_t>::max());
}

template <class T>
void scatter_add_loop(const CpuLoop& L) {
  using C = typename compute_type<T>::type;
  run_cpu_loop(
      L,
      [](char** ptrs, const int64_t* s, int64_t n) {
        char* dst = ptrs[0];
        const char* off = ptrs[1];
        const char* val = ptrs[2];
        for (int64_t i = 0; i < n; ++i) {
          int64_t o = *reinterpret_cast<const int64_t*>(off + i * s[1]);
          T* d = reinterpret_cast<T*>(dst + i * s[0] + o * (int64_t)sizeof(T));
          const T* v = reinterpret_cast<const T*>(val + i * s[2]);
          if constexpr (std::is_same_v<T, bool>) {
            *d = *d || *v;
          } else {
            *d = static_cast<T>(static_cast<C>(*d) + static_cast<C>(*v));
          }
        }
      },
      std::numeric_limits<int64_t>::max());
}

void scatter_by_offset_cpu(const Tensor& dst, const Tensor& off, const Tensor& values, bool accumulate) {
  DLCORE_CHECK(dst.shape() == off.shape() && dst.shape() == values.shape(), ValueError,
               "scatter_by_offset(): shapes differ: ", dst.shape().str(), ", ", off.shape().str(), ", ",
               values.shape().str());
  DLCORE_CHECK(dst.dtype() == values.dtype(), TypeError, "scatter_by_offset(): dtypes differ");
  CpuLoop L = make_cpu_loop({&dst, &off, &values});
  if (accumulate) {
    dispatch_dtype(dst.dtype(), "scatter_add", [&](auto tag) {
      using T = typename decltype(tag)::type;
      scatter_add_loop<T>(L);
    });
    return;
  }
  switch (dst.itemsize()) {
    case 1: scatter_copy_loop<uint8_t>(L); break;
    case 2: scatter_copy_loop<uint16_t>(L); break;
    case 4: scatter_copy_loop<uint32_t>(L); break;
    default: scatter_copy_loop<uint64_t>(L); break;
  }
}

}  // namespace

void index_select_contiguous_cpu(const Tensor& out, const Tensor& x, const Tensor& off, int dim) {
  const int64_t K = out.size(dim), D = x.size(dim);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= x.size(d);
  for (int d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t isz = (int64_t)x.itemsize(), bytes = inner * isz;
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const int64_t* o = off.data<int64_t>();  // idx * inner, checked
  parallel_for(0, outer * K, std::max<int64_t>(1, 32768 / std::max<int64_t>(bytes, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t b = j / K, k = j % K;
      std::memcpy(dst + j * bytes, src + (b * D * inner + o[k]) * isz, (size_t)bytes);
    }
  });
}

namespace {
template <class T>
void reverse_copy(char* dst, const char* src, int64_t n) {
  T* d = reinterpret_cast<T*>(dst);
  const T* s = reinterpret_cast<const T*>(src);
  int64_t i = 0;
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    // 16-byte vectors reversed by one shuffle (the element loop was not vectorised: [256,1000] float32 flip(1)
    // 29 us against a 18 us copy)
    using V = uint32_t __attribute__((vector_size(16)));
    using M = int32_t __attribute__((vector_size(16)));
    constexpr int64_t L = 16 / sizeof(T);
    const M mask = sizeof(T) == 4 ? M{3, 2, 1, 0} : M{2, 3, 0, 1};
    for (; i + 2 * L <= n; i += 2 * L) {
      V a, b;
      std::memcpy(&a, s + n - L - i, 16);
      std::memcpy(&b, s + n - 2 * L - i, 16);
      a = __builtin_shuffle(a, mask);
      b = __builtin_shuffle(b, mask);
      std::memcpy(d + i, &a, 16);
      std::memcpy(d + i + L, &b, 16);
    }
  }
  for (; i < n; ++i) d[i] = s[n - 1 - i];
}
}  // namespace

bool index_add_contiguous_cpu(const Tensor& out, const Tensor& src, const Tensor& off, int dim) {
  const DType dt = out.dtype();
  if (dt == DType::Bool || dt == DType::Float16 || dt == DType::BFloat16) return false;
  const int64_t K = src.size(dim), D = out.size(dim);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= out.size(d);
  for (int d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  const int64_t* o = off.data<int64_t>();  // idx * inner
  dispatch_dtype(dt, "index_add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool> && !std::is_same_v<T, Half> && !std::is_same_v<T, BFloat16>) {
      T* po = out.data<T>();
      const T* ps = src.data<T>();
      const int64_t cb = std::max<int64_t>(64, (inner + 15) / 16);  // column blocks of a row
      const int64_t nb = (inner + cb - 1) / cb;
      parallel_for(0, outer * nb, std::max<int64_t>(1, 16384 / std::max<int64_t>(K * std::min(cb, inner), 1)),
                   [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
          const int64_t b = j / nb, c0 = (j % nb) * cb, c1 = std::min(inner, c0 + cb);
          T* ob = po + b * D * inner;
          const T* sb = ps + b * K * inner;
          for (int64_t k = 0; k < K; ++k) {
            T* orow = ob + o[k];
            const T* srow = sb + k * inner;
            for (int64_t c = c0; c < c1; ++c) orow[c] = (T)(orow[c] + srow[c]);
          }
        }
      });
    }
  });
  return true;
}

Tensor bincount_cpu(const Tensor& x, int64_t size) {
  const int64_t n = x.numel();
  const int64_t* v = x.data<int64_t>();
  // threads only when the counts are small next to the data (each thread counts into its own copy)
  const int nt = (int)std::min<int64_t>(get_num_threads(), std::max<int64_t>(1, n / std::max<int64_t>(65536, 4 * size)));
  if (nt == 1) {
    Tensor out = Tensor::zeros({size}, DType::Int64, Device());
    int64_t* o = out.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) ++o[v[i]];
    return out;
  }
  std::vector<std::vector<int64_t>> part(nt);
  parallel_run(nt, [&](int c, int) {
    std::vector<int64_t>& cnt = part[c];
    cnt.assign(size, 0);
    for (int64_t i = n * c / nt; i < n * (c + 1) / nt; ++i) ++cnt[v[i]];
  });
  Tensor out = Tensor::empty({size}, DType::Int64, Device());
  int64_t* o = out.data<int64_t>();
  for (int64_t b = 0; b < size; ++b) {
    int64_t sum = 0;
    for (int c = 0; c < nt; ++c) sum += part[c][b];
    o[b] = sum;
  }
  return out;
}

void flip_roll_contiguous_cpu(const Tensor& out, const Tensor& x, const std::vector<bool>& flip,
                              const std::vector<int64_t>& shift) {
  const int nd = x.dim();
  int k = -1;  // the last dim that moves
  for (int d = 0; d < nd; ++d)
    if (flip[d] || shift[d]) k = d;
  const int64_t isz = (int64_t)x.itemsize();
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  if (k < 0) {
    std::memcpy(dst, src, (size_t)(x.numel() * isz));
    return;
  }
  int64_t block = 1;  // elements of the dims after k
  for (int d = k + 1; d < nd; ++d) block *= x.size(d);
  // units: the index over dims [0, last] with last = k when block > 1, else k - 1 (rows of dim k moved as a whole)
  const int last = block > 1 ? k : k - 1;
  const int64_t row = block > 1 ? block : x.size(k);  // elements per unit
  int64_t units = 1;
  for (int d = 0; d <= last; ++d) units *= x.size(d);
  const bool last_flip = block == 1 && flip[k];
  const int64_t last_shift = block == 1 ? shift[k] : 0;
  const int64_t bytes = row * isz;
  parallel_for(0, units, std::max<int64_t>(1, 32768 / std::max<int64_t>(bytes, 1)), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      int64_t rem = u, su = 0, mul = 1;  // the source unit of u
      for (int d = last; d >= 0; --d) {
        const int64_t n = x.size(d), i = rem % n;
        rem /= n;
        int64_t j = flip[d] ? n - 1 - i : i - shift[d];
        if (j < 0) j += n;
        su += j * mul;
        mul *= n;
      }
      char* o = dst + u * bytes;
      const char* s = src + su * bytes;
      if (last_flip) {
        switch (isz) {
          case 1: reverse_copy<uint8_t>(o, s, row); break;
          case 2: reverse_copy<uint16_t>(o, s, row); break;
          case 4: reverse_copy<uint32_t>(o, s, row); break;
          default: reverse_copy<uint64_t>(o, s, row); break;
        }
      } else if (last_shift) {  // out[i] = x[i - shift]: the tail of the row first
        std::memcpy(o, s + (row - last_shift) * isz, (size_t)(last_shift * isz));
        std::memcpy(o + last_shift * isz, s, (size_t)((row - last_shift) * isz));
      } else {
        std::memcpy(o, s, (size_t)bytes);
      }
    }
  });
}

void cat_cpu(const Tensor& out, const std::vector<Tensor>& ts, int d) {
  const IntList& shape = out.shape();
  const int64_t total = shape[d];
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= shape[k];
  for (int k = d + 1; k < (int)shape.size(); ++k) inner *= shape[k];
  const int64_t isz = (int64_t)out.itemsize(), row = total * inner * isz;
  struct Piece { const char* src; int64_t off, bytes; };
  std::vector<Piece> pieces;
  int64_t start = 0;
  for (const Tensor& t : ts) {
    const int64_t n = t.size(d);
    if (n && t.dtype() == out.dtype() && t.is_contiguous() && t.device().type == DeviceType::CPU)
      pieces.push_back({static_cast<const char*>(t.raw_data()), start * inner * isz, n * inner * isz});
    else if (n)
      out.slice(d, start, start + n, 1).copy_from(t);
    start += n;
  }
  char* dst = static_cast<char*>(out.raw_data());
  if (outer == 1) {  // whole pieces: split the big ones so that both threads copy
    constexpr int64_t kChunk = 256 << 10;
    std::vector<Piece> segs;
    for (const Piece& p : pieces)
      for (int64_t o = 0; o < p.bytes; o += kChunk)
        segs.push_back({p.src + o, p.off + o, std::min(kChunk, p.bytes - o)});
    parallel_for(0, (int64_t)segs.size(), 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) std::memcpy(dst + segs[s].off, segs[s].src, (size_t)segs[s].bytes);
    });
  } else {
    parallel_for(0, outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(row, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o)
        for (const Piece& p : pieces)
          std::memcpy(dst + o * row + p.off, p.src + o * p.bytes, (size_t)p.bytes);
    });
  }
}

Tensor cat_cpu(const std::vector<Tensor>& ts, int d, DType dt) {
  IntList shape = ts[0].shape();
  int64_t total = 0;
  for (const Tensor& t : ts) total += t.size(d);
  shape[d] = total;
  Tensor out = Tensor::empty(shape, dt, Device());
  if (out.numel()) cat_cpu(out, ts, d);
  return out;
}

void triangle_contiguous_cpu(const Tensor& out, const Tensor& x, int64_t diagonal, bool upper) {
  const int nd = x.dim();
  const int64_t R = x.size(nd - 2), C = x.size(nd - 1), isz = (int64_t)x.itemsize();
  diagonal = std::min(std::max(diagonal, -R - 1), C + 1);  // (same rows kept; i + diagonal cannot overflow)
  const int64_t rows = x.numel() / std::max<int64_t>(C, 1);
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(C * isz, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i = r % R;
      // kept columns: tril j <= i + diagonal, triu j >= i + diagonal
      const int64_t edge = std::min(std::max<int64_t>(i + diagonal + (upper ? 0 : 1), 0), C);
      const int64_t k0 = upper ? edge : 0, k1 = upper ? C : edge;
      char* o = dst + r * C * isz;
      const char* s = src + r * C * isz;
      if (k0 > 0) std::memset(o, 0, (size_t)(k0 * isz));
      if (k1 > k0) std::memcpy(o + k0 * isz, s + k0 * isz, (size_t)((k1 - k0) * isz));
      if (C > k1) std::memset(o + k1 * isz, 0, (size_t)((C - k1) * isz));
    }
  });
}

// nonzero (contract in index.h) on the cpu: flags (x != 0 by the cast to bool), rows of the last dim split in
// chunks, a count per chunk, the chunks' output offsets, then each chunk writes its coordinates: a row's leading
// coordinates are carried from row to row (no division per hit) and every element writes its coordinates at the
// next free slot, which advances by its flag (no branch per element; the chunk stops at its last hit, so it never
// writes into the next chunk's rows). [256,1000] half non-zero, 1 thread: NumPy's nonzero + stack 1.76 ms, torch
// 1.26 ms.
Tensor nonzero_cpu(const Tensor& x) {
  const int nd = x.dim();
  const int64_t n = x.numel();
  if (n == 0 || nd == 0) {
    const bool hit = n == 1 && x.to(DType::Bool).data<bool>()[0];
    return Tensor::zeros(IntList{hit ? 1 : 0, (int64_t)nd}, DType::Int64, x.device());
  }
  Tensor flags = x.to(DType::Bool).contiguous();
  const uint8_t* f = reinterpret_cast<const uint8_t*>(flags.raw_data());
  const int64_t L = x.size(nd - 1), rows = n / L;
  const int nt = (int)std::min<int64_t>(get_num_threads(), std::max<int64_t>(1, n / 65536));
  std::vector<int64_t> start(nt + 1, 0);
  auto row_range = [&](int c, int64_t& r0, int64_t& r1) {
    r0 = rows * c / nt;
    r1 = rows * (c + 1) / nt;
  };
  parallel_run(nt, [&](int c, int) {
    int64_t r0, r1;
    row_range(c, r0, r1);
    int64_t cnt = 0;
    for (int64_t i = r0 * L; i < r1 * L; ++i) cnt += f[i] != 0;
    start[c + 1] = cnt;
  });
  for (int c = 0; c < nt; ++c) start[c + 1] += start[c];
  Tensor out = Tensor::empty(IntList{start[nt], (int64_t)nd}, DType::Int64, x.device());
  int64_t* o = out.data<int64_t>();
  parallel_run(nt, [&](int c, int) {
    int64_t r0, r1;
    row_range(c, r0, r1);
    int64_t k = start[c];
    const int64_t kend = start[c + 1];
    if (k == kend) return;
    int64_t lead[kMaxDims] = {};  // the coordinates of row r0 in the leading dims
    for (int64_t rem = r0, d = nd - 2; d >= 0; --d) {
      lead[d] = rem % x.size(d);
      rem /= x.size(d);
    }
    for (int64_t r = r0; r < r1 && k < kend; ++r) {
      const uint8_t* fr = f + r * L;
      if (nd == 1) {
        for (int64_t j = 0; j < L && k < kend; ++j) {
          o[k] = j;
          k += fr[j] != 0;
        }
      } else if (nd == 2) {
        const int64_t r_ = lead[0];
        for (int64_t j = 0; j < L && k < kend; ++j) {
          o[2 * k] = r_;
          o[2 * k + 1] = j;
          k += fr[j] != 0;
        }
      } else {
        for (int64_t j = 0; j < L && k < kend; ++j) {
          int64_t* ok = o + k * nd;
          for (int d = 0; d < nd - 1; ++d) ok[d] = lead[d];
          ok[nd - 1] = j;
          k += fr[j] != 0;
        }
      }
      for (int d = nd - 2; d >= 0; --d) {  // the next row's leading coordinates
        if (++lead[d] < x.size(d)) break;
        lead[d] = 0;
      }
    }
  });
  return out;
}

static KernelRegistrar reg_nz(nonzero_op, DeviceType::CPU, &nonzero_cpu, "cpu");
static KernelRegistrar reg_g(gather_by_offset_op, DeviceType::CPU, &gather_by_offset_cpu, "cpu");
static KernelRegistrar reg_s(scatter_by_offset_op, DeviceType::CPU, &scatter_by_offset_cpu, "cpu");

}  // namespace dlcore
