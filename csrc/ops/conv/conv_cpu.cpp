// CPU convolution kernels. The reference algorithm is im2col + GEMM per (sample, group):
//   forward      y[n,g]  (Kg x PQ)    = w[g] (Kg x CgRS)  @ col (CgRS x PQ)         (+ bias in the GEMM epilogue)
//   input grad   col     (CgRS x PQ)  = w[g]^T (CgRS x Kg) @ gy[n,g] (Kg x PQ), then col2im (scatter-add) into gx
//   weight grad  gw[g]   (Kg x CgRS) += gy[n,g] (Kg x PQ) @ col^T (PQ x CgRS)
// where col = im2col(x[n,g]) holds, for every tap (c,r,s), the input pixels that tap sees at every output position
// (zeros in the padding). A 1x1 kernel with stride 1 and no padding needs no col: x[n,g] itself is the matrix.
// Transposes are only strides passed to sgemm/dgemm (ops/gemm/gemm.h).
//
// Threads: with N >= threads the batch is split across threads (each with its own col buffer, GEMMs run on the
// calling thread; the weight gradient is summed from per-thread partials); otherwise the samples run one after the
// other and each GEMM uses the thread pool.
// float32 layers with few input channels and stride 1 go to the direct kernels of conv_direct.h when the active ISA
// has them.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv_direct.h"
#include "ops/conv/conv_winograd.h"
#include "ops/gemm/gemm.h"

namespace dlcore {

namespace {
std::atomic<int> g_algorithm{(int)ConvAlgorithm::Auto};
}
void set_conv_algorithm(ConvAlgorithm a) { g_algorithm.store((int)a, std::memory_order_relaxed); }
ConvAlgorithm conv_algorithm() { return (ConvAlgorithm)g_algorithm.load(std::memory_order_relaxed); }

namespace {
void install_avx512_vl(ConvDirectTables& t, int vl) {
  DLCORE_CHECK(vl == 8 || vl == 16, ValueError, "conv direct kernels: vector width must be 8 or 16, got ", vl);
  DLCORE_CHECK(t.forward512[vl / 16] != nullptr, RuntimeError, "conv direct kernels: no AVX-512 build (or this CPU "
               "does not run AVX-512)");
  t.forward.fn[(int)Isa::AVX512] = t.forward512[vl / 16];
  t.weight.fn[(int)Isa::AVX512] = t.weight512[vl / 16];
  t.avx512_vl = vl;
}
}  // namespace

ConvDirectTables& conv_direct_tables() {
  static ConvDirectTables t = [] {
    ConvDirectTables r;
    const int s = (int)cpu_isa_supported();
    if (s >= (int)Isa::AVX2) conv_direct_avx2::register_kernels(r);
    if (s >= (int)Isa::AVX512) {
      conv_direct_avx512::register_kernels(r);
      install_avx512_vl(r, 16);
    }
    return r;
  }();
  return t;
}

void conv_direct_set_avx512_vl(int vl) { install_avx512_vl(conv_direct_tables(), vl); }

namespace {

// A per-thread scratch buffer that keeps its pages between calls (no first-touch cost on every layer call).
template <class T>
T* scratch(std::size_t n, int slot) {
  thread_local std::vector<T> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

// The output columns [q_lo, q_hi) whose input column q*sw - pl + s*dw lies inside [0, W).
inline void valid_q_range(const ConvParams& p, int64_t s, int64_t& q_lo, int64_t& q_hi) {
  int64_t off = s * p.dw - p.pl;  // iw = q*sw + off
  // q >= ceil(-off / sw), q <= floor((W - 1 - off) / sw)
  q_lo = off >= 0 ? 0 : (-off + p.sw - 1) / p.sw;
  q_hi = (p.W - 1 - off) < 0 ? 0 : (p.W - 1 - off) / p.sw + 1;
  q_lo = std::min(q_lo, p.Q);
  q_hi = std::max(q_lo, std::min(q_hi, p.Q));
}

// Short or strided output rows (Q < 16, or a column stride): copying tap row by tap row from x, with the padding's
// zero runs cut off at each end, costs more than the data there (a stride-2 layer with 8 output columns ran its
// im2col at ~2.4 cycles per element, 20% of the layer). Instead each channel's window of the tile is copied once
// into a zero-bordered image (Hr x Wr: its rows and columns the tile reads), from which every tap row is a plain
// strided read with no bounds (the stride a compile-time constant for 1 and 2, so the loop vectorises).
inline bool im2col_padded(const ConvParams& p) { return p.Q < 16 || p.sw != 1; }

template <class T, int SW>
DLCORE_ALWAYS_INLINE void strided_row(T* dst, const T* src, int64_t Q, int64_t sw) {
  if constexpr (SW > 0) {
    for (int64_t q = 0; q < Q; ++q) dst[q] = src[q * SW];
  } else {
    for (int64_t q = 0; q < Q; ++q) dst[q] = src[q * sw];
  }
}

// d[0, len) = left zeros, then src[0, n), then zeros.
template <class T>
void pad_row(T* d, int64_t left, const T* src, int64_t n, int64_t len) {
  std::fill(d, d + left, T(0));
  std::memcpy(d + left, src, (std::size_t)n * sizeof(T));
  std::fill(d + left + n, d + len, T(0));
}

// The input window a row tile [p0, p1) reads: Hr x Wr pixels from (ih0, iw0) (padding included), of which rows
// [i_lo, i_hi) and columns [j_lo, j_hi) lie inside the image.
struct TileWindow {
  int64_t Hr, Wr, ih0, iw0, i_lo, i_hi, j_lo, j_hi;
  TileWindow(const ConvParams& p, int64_t p0, int64_t p1)
      : Hr((p1 - 1 - p0) * p.sh + (p.R - 1) * p.dh + 1), Wr((p.Q - 1) * p.sw + (p.S - 1) * p.dw + 1),
        ih0(p0 * p.sh - p.pt), iw0(-p.pl) {
    i_lo = std::min(Hr, std::max<int64_t>(0, -ih0));
    i_hi = std::max(i_lo, std::min(Hr, p.H - ih0));
    j_lo = std::min(Wr, std::max<int64_t>(0, -iw0));
    j_hi = std::max(j_lo, std::min(Wr, p.W - iw0));
  }
};

template <class T, int SW>
void im2col_from_padded(const T* x, T* col, const ConvParams& p, int64_t p0, int64_t p1) {
  const int64_t Cg = p.Cg(), ld = (p1 - p0) * p.Q;
  const TileWindow tw(p, p0, p1);
  const int64_t Wr = tw.Wr;
  T* xp = scratch<T>((std::size_t)(tw.Hr * Wr), 2);  // (slots 0 and 1 hold the callers' col and accT)
  for (int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + c * p.H * p.W;
    for (int64_t i = 0; i < tw.Hr; ++i) {
      T* d = xp + i * Wr;
      if (i < tw.i_lo || i >= tw.i_hi) std::fill(d, d + Wr, T(0));
      else pad_row(d, tw.j_lo, xc + (tw.ih0 + i) * p.W + tw.iw0 + tw.j_lo, tw.j_hi - tw.j_lo, Wr);
    }
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        T* row = col + ((c * p.R + r) * p.S + s) * ld;
        const T* src = xp + r * p.dh * Wr + s * p.dw;
        for (int64_t oh = 0; oh < p1 - p0; ++oh) strided_row<T, SW>(row + oh * p.Q, src + oh * p.sh * Wr, p.Q, p.sw);
      }
  }
}

// col [Cg*R*S, (p1-p0)*Q] from x [Cg, H, W] (one sample, one group): output rows [p0, p1) only (a row tile).
template <class T>
void im2col(const T* x, T* col, const ConvParams& p, int64_t p0, int64_t p1) {
  const int64_t Cg = p.Cg(), ld = (p1 - p0) * p.Q;
  if (im2col_padded(p)) {
    if (p.sw == 1) return im2col_from_padded<T, 1>(x, col, p, p0, p1);
    if (p.sw == 2) return im2col_from_padded<T, 2>(x, col, p, p0, p1);
    return im2col_from_padded<T, 0>(x, col, p, p0, p1);
  }
  for (int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + c * p.H * p.W;
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        T* row = col + ((c * p.R + r) * p.S + s) * ld;
        int64_t q_lo, q_hi;
        valid_q_range(p, s, q_lo, q_hi);
        int64_t off = s * p.dw - p.pl;
        for (int64_t oh = p0; oh < p1; ++oh) {
          T* dst = row + (oh - p0) * p.Q;
          int64_t ih = oh * p.sh - p.pt + r * p.dh;
          if (ih < 0 || ih >= p.H) {
            std::fill(dst, dst + p.Q, T(0));
            continue;
          }
          const T* src = xc + ih * p.W + off;
          std::fill(dst, dst + q_lo, T(0));
          if (p.sw == 1) {
            std::memcpy(dst + q_lo, src + q_lo, (q_hi - q_lo) * sizeof(T));
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) dst[q] = src[q * p.sw];
          }
          std::fill(dst + q_hi, dst + p.Q, T(0));
        }
      }
    }
  }
}

// col2im for a column stride sw > 1: scattering a tap row into every sw-th element of a gx row is a chain of
// dependent scalar adds (4x4/2 with 8 output columns: ~18% of the input gradient). Per channel, the tap rows are
// added instead into a window split by column phase (padded column iwp = q sw + s dw lives in phase iwp mod sw at
// iwp div sw): each tap row is a contiguous run there, so the adds vectorise; one pass then adds the phases back,
// interleaved, into gx.
template <class T>
void col2im_add_phased(const T* col, T* gx, const ConvParams& p, int64_t p0, int64_t p1) {
  const int64_t Cg = p.Cg(), ld = (p1 - p0) * p.Q, sw = p.sw;
  const TileWindow tw(p, p0, p1);
  const int64_t Hr = tw.Hr, Wj = (tw.Wr + sw - 1) / sw;  // Wj: a phase row
  const int64_t ih0 = tw.ih0, iw0 = tw.iw0, i_lo = tw.i_lo, i_hi = tw.i_hi, j_lo = tw.j_lo, j_hi = tw.j_hi;
  T* xp = scratch<T>((std::size_t)(Hr * sw * Wj), 2);
  std::vector<int64_t> j0((std::size_t)sw);  // the first window column >= j_lo in each phase
  for (int64_t b = 0; b < sw; ++b) j0[b] = j_lo + ((b - j_lo) % sw + sw) % sw;
  for (int64_t c = 0; c < Cg; ++c) {
    std::fill(xp, xp + Hr * sw * Wj, T(0));
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        const T* src = col + ((c * p.R + r) * p.S + s) * ld;
        T* dst = xp + (r * p.dh * sw + (s * p.dw) % sw) * Wj + (s * p.dw) / sw;
        for (int64_t oh = 0; oh < p1 - p0; ++oh) {
          T* d = dst + oh * p.sh * sw * Wj;
          const T* sr = src + oh * p.Q;
          for (int64_t q = 0; q < p.Q; ++q) d[q] += sr[q];
        }
      }
    T* gc = gx + c * p.H * p.W;
    for (int64_t i = i_lo; i < i_hi; ++i) {
      T* d = gc + (ih0 + i) * p.W + iw0;
      const T* xr = xp + i * sw * Wj;
      for (int64_t b = 0; b < sw; ++b) {
        const T* xb = xr + b * Wj;
        for (int64_t j = j0[b], t = j0[b] / sw; j < j_hi; j += sw, ++t) d[j] += xb[t];
      }
    }
  }
}

// gx [Cg, H, W] += col2im(col) for the row tile [p0, p1) (the adjoint of im2col); gx must be initialised.
template <class T>
void col2im_add(const T* col, T* gx, const ConvParams& p, int64_t p0, int64_t p1) {
  const int64_t Cg = p.Cg(), ld = (p1 - p0) * p.Q;
  if (p.sw > 1) return col2im_add_phased(col, gx, p, p0, p1);
  for (int64_t c = 0; c < Cg; ++c) {
    T* gc = gx + c * p.H * p.W;
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        const T* row = col + ((c * p.R + r) * p.S + s) * ld;
        int64_t q_lo, q_hi;
        valid_q_range(p, s, q_lo, q_hi);
        int64_t off = s * p.dw - p.pl;
        for (int64_t oh = p0; oh < p1; ++oh) {
          int64_t ih = oh * p.sh - p.pt + r * p.dh;
          if (ih < 0 || ih >= p.H) continue;
          const T* src = row + (oh - p0) * p.Q;
          T* dst = gc + ih * p.W + off;
          if (p.sw == 1) {
            for (int64_t q = q_lo; q < q_hi; ++q) dst[q] += src[q];
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) dst[q * p.sw] += src[q];
          }
        }
      }
    }
  }
}

// Output rows per im2col tile: the tile's col (CgRS x rows*Q) should stay in a core's L2 (about 1 MiB here)
// while the GEMM packs it, but be wide enough (>= ~192 columns) for the GEMM to run at speed.
template <class T>
int64_t tile_rows(const ConvParams& p) {
  const int64_t row_bytes = p.Cg() * p.R * p.S * p.Q * (int64_t)sizeof(T);
  int64_t rows = std::max<int64_t>(1, (int64_t)(640 * 1024) / std::max<int64_t>(row_bytes, 1));
  rows = std::max(rows, (192 + p.Q - 1) / p.Q);
  rows = std::min(rows, p.P);
  int64_t tiles = (p.P + rows - 1) / rows;  // balance the tiles
  return (p.P + tiles - 1) / tiles;
}

inline bool is_pointwise(const ConvParams& p) {
  return p.R == 1 && p.S == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pb == 0 && p.pl == 0 && p.pr == 0;
}

// Splits the batch over threads when there are enough samples; otherwise runs them in order (GEMMs threaded).
template <class F>
void over_batch(int64_t N, const F& fn) {
  int nt = get_num_threads();
  if (nt > 1 && N >= nt && !in_parallel_region()) {
    parallel_run(nt, [&](int tid, int nthr) {
      int64_t lo = N * tid / nthr, hi = N * (tid + 1) / nthr;
      fn(tid, lo, hi);
    });
  } else {
    fn(0, 0, N);
  }
}

// One output row (conv1d, or any layer with P == 1) and unit column stride: row (c, r, s) of im2col is a stretch of
// input row r*dh - pt of channel c, zero-padded. Those rows, padded once per sample (Cg R rows of Wp values, and one
// row of zeros for the taps that fall in the top/bottom padding), go to the GEMM as row pointers (gemm_rows), which
// packs them in place: no im2col copy of S times the input.
inline bool rows_b_applies(const ConvParams& p) { return p.P == 1 && p.sw == 1 && !is_pointwise(p); }

template <class T>
void padded_rows_b(const T* xg, const ConvParams& p, int64_t Wp, T* xpad, const T** rows) {
  const int64_t Cg = p.Cg();
  T* zero = xpad + Cg * p.R * Wp;
  std::fill(zero, zero + Wp, T(0));
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < p.R; ++r) {
      const int64_t ih = r * p.dh - p.pt;  // output row 0
      const T* row = zero;
      if (ih >= 0 && ih < p.H) {
        T* d = xpad + (c * p.R + r) * Wp;
        pad_row(d, p.pl, xg + (c * p.H + ih) * p.W, p.W, Wp);
        row = d;
      }
      for (int64_t s = 0; s < p.S; ++s) rows[(c * p.R + r) * p.S + s] = row + s * p.dw;
    }
}

template <class T>
void forward_im2col(T* y, const T* x, const T* w, const T* b, const ConvParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, CRS = Cg * p.R * p.S, HW = p.H * p.W;
  const bool pw = is_pointwise(p), rows_b = rows_b_applies(p);
  const int64_t tr = tile_rows<T>(p);
  const int64_t Wp = std::max(p.pl + p.W, p.Q + (p.S - 1) * p.dw);  // a padded input row (rows_b)
  // w is every GEMM's A operand (one per sample and row tile), read in place; with a row stride that is a multiple
  // of 1 KiB the GEMM packs it on every call instead. A copy with a padded leading dimension, made once, avoids it:
  // [64,64,16,16] 4x4/2 -> 128 (C R S = 1024 floats), GEMM 128x64x1024 101 -> 110 GFLOP/s.
  const int64_t lda = p.N * p.G * ((p.P + tr - 1) / tr) > 1 ? padded_ld<T>(CRS) : CRS;
  std::vector<T> wpad;
  const T* wa = w;
  if (lda != CRS) {
    wpad.resize((std::size_t)(p.K * lda));
    for (int64_t k = 0; k < p.K; ++k) std::memcpy(wpad.data() + k * lda, w + k * CRS, (std::size_t)CRS * sizeof(T));
    wa = wpad.data();
  }
  over_batch(p.N, [&](int tid, int64_t n0, int64_t n1) {
    T* col = pw ? nullptr : scratch<T>(rows_b ? (std::size_t)((Cg * p.R + 1) * Wp) : (std::size_t)CRS * tr * p.Q, 0);
    std::vector<const T*> rows(rows_b ? (std::size_t)CRS : 0);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < p.G; ++g) {
        const T* xg = x + (n * p.C + g * Cg) * HW;
        T* yg = y + (n * p.K + g * Kg) * PQ;
        GemmEpilogue<T> ep;
        if (b) {
          ep.bias = b + g * Kg;
          ep.bias_kind = BiasKind::PerRow;
        }
        if (rows_b) {
          padded_rows_b(xg, p, Wp, col, rows.data());
          gemm_rows<T>(Kg, p.Q, CRS, T(1), wa + g * Kg * lda, lda, 1, rows.data(), 0, T(0), yg, p.Q, 1, ep);
          continue;
        }
        if (pw) {
          gemm<T>(Kg, PQ, CRS, T(1), wa + g * Kg * lda, lda, 1, xg, PQ, 1, T(0), yg, PQ, 1, ep);
          continue;
        }
        for (int64_t p0 = 0; p0 < p.P; p0 += tr) {
          int64_t p1 = std::min(p.P, p0 + tr), cols = (p1 - p0) * p.Q;
          im2col(xg, col, p, p0, p1);
          gemm<T>(Kg, cols, CRS, T(1), wa + g * Kg * lda, lda, 1, col, cols, 1, T(0), yg + p0 * p.Q, PQ, 1, ep);
        }
      }
    }
  });
}

// conv1d with unit stride (one input and output row, R = 1): the input gradient is itself a correlation,
//   gx[c][x] = sum_{k,s} w[k][c][s] gy[k][x + pl - s dw]   (gy zero outside [0, Q)),
// so it runs as the forward does: the GEMM's B rows (k, s) are stretches of zero-padded gy rows (gemm_rows), A is
// w regrouped as [Cg][Kg S]; no col buffer and no col2im scatter. Top padding 0: the output row reads input row
// -pt, which is the input's row only then (with pt > 0 it reads padding and the input gradient is zero; the shortcut
// had returned the gradient of a read row: conv2d [2,1,1,3] * [2,1,1,2], stride (3,1), padding (1,1)).
inline bool rows_gx_applies(const ConvParams& p) {
  return p.H == 1 && p.P == 1 && p.R == 1 && p.sw == 1 && p.pt == 0 && !is_pointwise(p);
}

template <class T>
void backward_input_rows(T* gx, const T* gy, const T* w, const ConvParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), S = p.S, KS = Kg * S;
  const int64_t off = std::max<int64_t>(0, (S - 1) * p.dw - p.pl);  // zeros left of a gy row
  const int64_t Lg = off + std::max(p.Q, p.W + p.pl);                // a padded gy row (reads stay inside)
  std::vector<T> wr((std::size_t)(p.G * Cg * KS));  // wr[g][c][k S + s] = w[g Kg + k][c][s]
  for (int64_t g = 0; g < p.G; ++g)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t s = 0; s < S; ++s) wr[(g * Cg + c) * KS + k * S + s] = w[((g * Kg + k) * Cg + c) * S + s];
  over_batch(p.N, [&](int, int64_t n0, int64_t n1) {
    T* gyp = scratch<T>((std::size_t)(Kg * Lg), 0);
    std::vector<const T*> rows((std::size_t)KS);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g) {
        const T* gyg = gy + (n * p.K + g * Kg) * p.Q;
        for (int64_t k = 0; k < Kg; ++k) {
          T* d = gyp + k * Lg;
          pad_row(d, off, gyg + k * p.Q, p.Q, Lg);
          // column x of row (k, s): gy[k][x + pl - s dw] = d[off + x + pl - s dw]
          for (int64_t s = 0; s < S; ++s) rows[k * S + s] = d + off + p.pl - s * p.dw;
        }
        gemm_rows<T>(Cg, p.W, KS, T(1), wr.data() + g * Cg * KS, KS, 1, rows.data(), 0, T(0),
                     gx + (n * p.C + g * Cg) * p.W, p.W, 1);
      }
  });
}

template <class T>
void backward_input_im2col(T* gx, const T* gy, const T* w, const ConvParams& p) {
  if (rows_gx_applies(p)) return backward_input_rows(gx, gy, w, p);
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, CRS = Cg * p.R * p.S, HW = p.H * p.W;
  const bool pw = is_pointwise(p);
  const int64_t tr = tile_rows<T>(p);
  // w^T per group ([CRS, Kg] row-major), copied once: every GEMM below reads it as its A operand, which the GEMM
  // would otherwise pack from a column-major w per call (a transposition of the whole weight per row tile and
  // sample: AlexNet's 64 -> 192 5x5 layer took 58 ms against torch's 38 for its input gradient).
  std::vector<T> wT((std::size_t)(p.G * CRS * Kg));
  for (int64_t g = 0; g < p.G; ++g)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t j = 0; j < CRS; ++j) wT[(g * CRS + j) * Kg + k] = w[(g * Kg + k) * CRS + j];
  over_batch(p.N, [&](int tid, int64_t n0, int64_t n1) {
    T* col = pw ? nullptr : scratch<T>((std::size_t)CRS * tr * p.Q, 0);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < p.G; ++g) {
        T* gxg = gx + (n * p.C + g * Cg) * HW;
        const T* gyg = gy + (n * p.K + g * Kg) * PQ;
        const T* wg = wT.data() + g * CRS * Kg;
        if (pw) {  // gx[n,g] (Cg x HW) = w[g]^T (Cg x Kg) @ gy[n,g] (Kg x HW)
          gemm<T>(Cg, PQ, Kg, T(1), wg, Kg, 1, gyg, PQ, 1, T(0), gxg, PQ, 1);
          continue;
        }
        std::fill(gxg, gxg + Cg * HW, T(0));
        for (int64_t p0 = 0; p0 < p.P; p0 += tr) {
          int64_t p1 = std::min(p.P, p0 + tr), cols = (p1 - p0) * p.Q;
          gemm<T>(CRS, cols, Kg, T(1), wg, Kg, 1, gyg + p0 * p.Q, PQ, 1, T(0), col, cols, 1);
          col2im_add(col, gxg, p, p0, p1);
        }
      }
    }
  });
}

template <class T>
void backward_weight_im2col(T* gw, T* gb, const T* gy, const T* x, const ConvParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, CRS = Cg * p.R * p.S, HW = p.H * p.W;
  const bool pw = is_pointwise(p);
  const int64_t tr = tile_rows<T>(p);
  const int64_t wsize = p.K * CRS;
  int nt = get_num_threads();
  const bool split = nt > 1 && p.N >= nt && !in_parallel_region();
  // Per-thread partial sums (thread 0 writes gw itself); summed at the end.
  std::vector<T> partial(split ? (std::size_t)(nt - 1) * wsize : 0);
  // Non-pointwise layers accumulate gw^T [CRS, Kg] = col gy^T per thread, transposed into gw at the end: the GEMM
  // then packs the small gy tile transposed instead of the whole col tile (1.00-1.06x, A/B in one process).
  over_batch(p.N, [&](int tid, int64_t n0, int64_t n1) {
    T* acc = tid == 0 ? gw : partial.data() + (std::size_t)(tid - 1) * wsize;
    T* col = pw ? nullptr : scratch<T>((std::size_t)CRS * tr * p.Q, 0);
    if (n0 == n1) {
      std::fill(acc, acc + wsize, T(0));
      return;
    }
    T* accT = pw ? nullptr : scratch<T>((std::size_t)wsize, 1);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < p.G; ++g) {
        const T* xg = x + (n * p.C + g * Cg) * HW;
        const T* gyg = gy + (n * p.K + g * Kg) * PQ;
        T* accg = acc + g * Kg * CRS;
        if (pw) {
          gemm<T>(Kg, CRS, PQ, T(1), gyg, PQ, 1, xg, 1, PQ, n == n0 ? T(0) : T(1), accg, CRS, 1);
          continue;
        }
        for (int64_t p0 = 0; p0 < p.P; p0 += tr) {
          int64_t p1 = std::min(p.P, p0 + tr), cols = (p1 - p0) * p.Q;
          im2col(xg, col, p, p0, p1);
          gemm<T>(CRS, Kg, cols, T(1), col, cols, 1, gyg + p0 * p.Q, 1, PQ, (n == n0 && p0 == 0) ? T(0) : T(1),
                  accT + g * CRS * Kg, Kg, 1);
        }
      }
    }
    if (!pw)
      for (int64_t g = 0; g < p.G; ++g)
        for (int64_t j = 0; j < CRS; ++j)
          for (int64_t k = 0; k < Kg; ++k) acc[(g * Kg + k) * CRS + j] = accT[(g * CRS + j) * Kg + k];
  });
  for (int t = 1; split && t < nt; ++t) {
    const T* src = partial.data() + (std::size_t)(t - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) gw[i] += src[i];
  }
}

// gb[k] = the sum of gy's plane k over the batch: channels split over the threads; each plane summed in 16 partial
// sums (independent chains the compiler vectorises; one chain would wait an add's latency per element), the planes
// accumulated in double.
template <class T>
void bias_grad(T* gb, const T* gy, const ConvParams& p) {
  const int64_t PQ = p.P * p.Q;
  parallel_for(0, p.K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double acc = 0;
      for (int64_t n = 0; n < p.N; ++n) {
        const T* src = gy + (n * p.K + k) * PQ;
        T s[16] = {};
        int64_t i = 0;
        for (; i + 16 <= PQ; i += 16)
          for (int j = 0; j < 16; ++j) s[j] += src[i + j];
        for (int h = 8; h >= 1; h /= 2)
          for (int j = 0; j < h; ++j) s[j] += s[j + h];
        for (; i < PQ; ++i) s[0] += src[i];
        acc += (double)s[0];
      }
      gb[k] = (T)acc;
    }
  });
}

bool use_direct(const ConvParams& p) {
  auto a = conv_algorithm();
  return (a == ConvAlgorithm::Auto || a == ConvAlgorithm::Direct) && conv_direct_applies(p);
}
bool use_winograd(const ConvParams& p) {
  auto a = conv_algorithm();
  return (a == ConvAlgorithm::Auto && conv_winograd_preferred(p)) ||
         (a == ConvAlgorithm::Winograd && conv_winograd_applies(p));
}

bool use_depthwise(const ConvParams& p) {
  auto a = conv_algorithm();
  return (a == ConvAlgorithm::Auto || a == ConvAlgorithm::Direct) && conv_depthwise_applies(p);
}

void forward_cpu(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p) {
  if (y.dtype() == DType::Float32 && use_depthwise(p)) {
    if (auto* fn = conv_direct_tables().dw_forward.get()) {
      fn(y.data<float>(), x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, p);
      return;
    }
  }
  if (y.dtype() == DType::Float32 && use_direct(p)) {
    if (auto* fn = conv_direct_tables().forward.get()) {
      fn(y.data<float>(), x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, p);
      return;
    }
  }
  dispatch_float(y.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (use_winograd(p)) return conv_winograd_forward<T>(y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p);
    forward_im2col<T>(y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p);
  });
}

void backward_input_cpu(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& p) {
  if (gx.dtype() == DType::Float32 && use_depthwise(p)) {
    if (auto* fn = conv_direct_tables().dw_input.get()) {
      fn(gx.data<float>(), gy.data<float>(), w.data<float>(), p);
      return;
    }
  }
  dispatch_float(gx.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (use_winograd(p)) return conv_winograd_backward_input<T>(gx.data<T>(), gy.data<T>(), w.data<T>(), p);
    backward_input_im2col<T>(gx.data<T>(), gy.data<T>(), w.data<T>(), p);
  });
}

void backward_weight_cpu(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x,
                         const ConvParams& p) {
  if (gw && gy.dtype() == DType::Float32 && use_depthwise(p)) {
    if (auto* fn = conv_direct_tables().dw_weight.get()) {
      fn(gw->data<float>(), gy.data<float>(), x.data<float>(), p);
      if (gb) bias_grad<float>(gb->data<float>(), gy.data<float>(), p);
      return;
    }
  }
  if (gw && gy.dtype() == DType::Float32 && use_direct(p)) {
    if (auto* fn = conv_direct_tables().weight.get()) {
      fn(gw->data<float>(), gb ? gb->data<float>() : nullptr, gy.data<float>(), x.data<float>(), p);
      return;
    }
  }
  dispatch_float(gy.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (gw && use_winograd(p)) conv_winograd_backward_weight<T>(gw->data<T>(), gy.data<T>(), x.data<T>(), p);
    else if (gw) backward_weight_im2col<T>(gw->data<T>(), nullptr, gy.data<T>(), x.data<T>(), p);
    if (gb) bias_grad<T>(gb->data<T>(), gy.data<T>(), p);
  });
}

KernelRegistrar reg_fwd(conv2d_forward_op, DeviceType::CPU, &forward_cpu, "cpu");
KernelRegistrar reg_bwd_in(conv2d_backward_input_op, DeviceType::CPU, &backward_input_cpu, "cpu");
KernelRegistrar reg_bwd_w(conv2d_backward_weight_op, DeviceType::CPU, &backward_weight_cpu, "cpu");

}  // namespace

}  // namespace dlcore
