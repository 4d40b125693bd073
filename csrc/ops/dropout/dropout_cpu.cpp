// CPU dropout: the scalar build of the loop (reference and fallback), the per-ISA choice, registration, and the
// frontend (generator reservation, checks).
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/dropout/dropout_loops.h"
#include "ops/dropout/dropout_tables.h"

#include "core/cpu_features.h"
#include "ops/activation/layer_checks.h"
#include "ops/random/random.h"

namespace dlcore {

namespace scalar {
void dropout_entry(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a) { dropout_run(y, x, n, f64, a); }
}  // namespace scalar

namespace {

void dropout_cpu(const Tensor& out, const Tensor& in, const DropoutArgs& a) {
  using Fn = void(char*, const char*, int64_t, bool, const DropoutArgs&);
  static Fn* const table[kNumIsas] = {&scalar::dropout_entry, &avx2::dropout_entry, &avx512::dropout_entry};
  table[(int)cpu_isa()](static_cast<char*>(out.raw_data()), static_cast<const char*>(in.raw_data()), in.numel(),
                        in.dtype() == DType::Float64, a);
}

KernelRegistrar reg(dropout_op, DeviceType::CPU, &dropout_cpu, "cpu");

void check_dropout(const Tensor& x, const DropoutArgs& a, const char* op) {
  layers::check_float(x, op, "input");
  DLCORE_CHECK(a.p >= 0 && a.p <= 1, ValueError, op, "(): dropout probability has to be between 0 and 1, but got ",
               a.p);
  DLCORE_CHECK(a.group >= 1, ValueError, op, "(): group must be positive");
}

void reserve(const Tensor& x, DropoutArgs& a) {
  Generator& g = default_generator();
  int64_t groups = (x.numel() + a.group - 1) / a.group;
  std::lock_guard<std::mutex> lock(g.mutex);
  a.seed = g.seed;
  a.offset = g.offset;
  g.offset += (uint64_t)((groups + 3) / 4);
}

}  // namespace

Tensor dropout(const Tensor& x, DropoutArgs& a) {
  check_dropout(x, a, "dropout");
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (!x.numel()) return out;
  reserve(x, a);
  dropout_op.get(x.device().type)(out, xc, a);
  return out;
}

void dropout_(const Tensor& x, DropoutArgs& a) {
  check_dropout(x, a, "dropout_");
  DLCORE_CHECK(x.is_contiguous(), ValueError, "dropout_(): in-place dropout needs a contiguous tensor");
  if (!x.numel()) return;
  reserve(x, a);
  dropout_op.get(x.device().type)(x, x, a);
  ++x.storage()->version;
}

Tensor dropout_apply(const Tensor& g, const DropoutArgs& a) {
  check_dropout(g, a, "dropout_backward");
  Tensor gc = g.contiguous();
  Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  if (g.numel()) dropout_op.get(g.device().type)(out, gc, a);
  return out;
}

}  // namespace dlcore
