// Binding of the CTC loss kernels (csrc/ops/softmax_loss/ctc.h): argument checks with torch's messages, the
// reduction, and the state the backward needs. The kernel runs on log_probs' device (CPU: ctc_cpu.cpp, CUDA:
// ctc_cuda.cu); a device without a CTC kernel gets a host copy and the results copied back. The per-sample losses
// are reduced on the host (N values). Autograd is in python/dlcore/_nn_extra2.py (ctc_loss).
//
//   _C.ctc_loss(log_probs [T, N, C], targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
//               need_state, save_alpha=True) -> (loss, state or None)
//     reduction: 0 none ([N]), 1 mean (sum_n nll_n / max(L_n, 1) / N), 2 sum; zero_infinity: inf losses -> 0
//   _C.ctc_loss_backward(state, grad) -> grad of log_probs [T, N, C] (grad: the loss's shape)
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "core/errors.h"
#include "ops/softmax_loss/ctc.h"

namespace dlcore {

namespace {

constexpr const char* kOp = "ctc_loss()";

struct CtcState {
  Tensor lp;     // contiguous [T, N, C] on the kernel's device
  Tensor nll;    // [N] on the kernel's device, before zero_infinity
  Tensor alpha;  // on the kernel's device, or undefined (recomputed by the backward)
  CtcProblem p;
  int reduction = 1;
  bool zero_infinity = false;
  Device device;
};

std::vector<int64_t> to_lengths(py::handle h, int64_t N, const char* name) {
  std::vector<int64_t> v;
  if (is_tensor(h)) {
    const Tensor& t = as_tensor(h, kOp, name);
    DLCORE_CHECK(is_integral(t.dtype(), false), RuntimeError, kOp, ": ", name, " must be integral, got dtype ",
                 dtype_name(t.dtype()));
    Tensor c = t.to(Device()).to(DType::Int64).contiguous();
    v.assign(c.data<int64_t>(), c.data<int64_t>() + c.numel());
  } else if (PyLong_Check(h.ptr())) {
    v.push_back(h.cast<int64_t>());
  } else if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
    const int64_t len = (int64_t)seq.size();
    for (int64_t i = 0; i < len; ++i) {
      py::object e = seq[i];  // owned: a NumPy array's items are new objects
      if (is_tensor(e) && is_integral(as_tensor(e, kOp, name).dtype(), false) && as_tensor(e, kOp, name).numel() == 1) {
        v.push_back(as_tensor(e, kOp, name).to(Device()).to(DType::Int64).data<int64_t>()[0]);
      } else if (!PyFloat_Check(e.ptr()) && !is_tensor(e) && PyIndex_Check(e.ptr())) {
        v.push_back(py::reinterpret_borrow<py::object>(e).attr("__index__")().cast<int64_t>());
      } else {
        DLCORE_THROW(TypeError, kOp, ": ", name, " must be a Tensor or a sequence of ints, but element ", i,
                     " is of type ", type_name(e));
      }
    }
  } else {
    DLCORE_THROW(TypeError, kOp, ": ", name, " must be a Tensor, a sequence of ints or an int, got ", type_name(h));
  }
  DLCORE_CHECK((int64_t)v.size() == N, RuntimeError, kOp, ": ", name, " must be of size batch_size (", N, "), got ",
               v.size(), " value(s)");
  return v;
}

// The problem: lengths and targets checked as torch does (with torch's wording), labels in range.
CtcProblem make_problem(const Tensor& lp, const Tensor& targets, py::handle il, py::handle tl, int64_t blank) {
  DLCORE_CHECK(lp.dtype() == DType::Float32 || lp.dtype() == DType::Float64, TypeError, kOp,
               ": expected log_probs of dtype float32 or float64, got ", dtype_name(lp.dtype()));
  DLCORE_CHECK(lp.dim() == 3, RuntimeError, kOp, ": Expected 3-dimensional tensor, but got ", lp.dim(),
               "-dimensional tensor for argument #1 'log_probs' (log_probs must be [T, N, C] or [T, C], got shape ",
               lp.shape().str(), ")");
  DLCORE_CHECK(lp.numel() > 0, RuntimeError, kOp, ": log_probs tensor must not be empty (got shape ",
               lp.shape().str(), ")");
  CtcProblem p;
  p.T = lp.size(0);
  p.N = lp.size(1);
  p.C = lp.size(2);
  p.blank = blank;
  DLCORE_CHECK(blank >= 0 && blank < p.C, RuntimeError, kOp, ": blank must be in label range [0, ", p.C, "), got ",
               blank);
  DLCORE_CHECK(targets.dim() == 1 || targets.dim() == 2, RuntimeError, kOp, ": Expected 1 to 2 dimensions, but got ",
               targets.dim(), "-dimensional tensor for argument #2 'targets' (padded [N, S] or concatenated "
               "[sum(target_lengths)] targets, got shape ", targets.shape().str(), ")");
  p.in_len = to_lengths(il, p.N, "input_lengths");
  p.tgt_len = to_lengths(tl, p.N, "target_lengths");
  for (int64_t v : p.in_len) {
    DLCORE_CHECK(v >= 0, RuntimeError, kOp, ": Expected input_lengths to have value at least 0, but got value ", v);
    DLCORE_CHECK(v <= p.T, RuntimeError, kOp, ": Expected input_lengths to have value at most ", p.T,
                 " (the length of log_probs), but got value ", v);
  }
  int64_t total = 0, longest = 0;
  for (int64_t v : p.tgt_len) {
    DLCORE_CHECK(v >= 0, RuntimeError, kOp, ": Expected target_lengths to have value at least 0, but got value ", v);
    total += v;
    longest = std::max(longest, v);
  }
  Tensor tg = targets.to(Device()).to(DType::Int64).contiguous();
  const int64_t* t = tg.data<int64_t>();
  p.tgt_off.resize(p.N);
  if (targets.dim() == 2) {
    DLCORE_CHECK(targets.size(0) == p.N, RuntimeError, kOp, ": Expected tensor to have size ", p.N,
                 " at dimension 0, but got size ", targets.size(0), " for argument #2 'targets' (padded targets "
                 "need one row per batch element)");
    const int64_t S = targets.size(1);
    DLCORE_CHECK(longest <= S, RuntimeError, kOp, ": Expected tensor to have size at least ", longest,
                 " at dimension 1, but got size ", S, " for argument #2 'targets' (the largest of target_lengths is ",
                 longest, ")");
    p.labels.resize(total);
    int64_t o = 0;
    for (int64_t n = 0; n < p.N; ++n) {
      p.tgt_off[n] = o;
      std::copy(t + n * S, t + n * S + p.tgt_len[n], p.labels.begin() + o);
      o += p.tgt_len[n];
    }
  } else {
    DLCORE_CHECK(targets.size(0) == total, RuntimeError, kOp, ": Expected tensor to have size ", total,
                 " at dimension 0, but got size ", targets.size(0), " for argument #2 'targets' (concatenated "
                 "targets need sum(target_lengths) = ", total, " elements)");
    p.labels.assign(t, t + total);
    int64_t o = 0;
    for (int64_t n = 0; n < p.N; ++n) {
      p.tgt_off[n] = o;
      o += p.tgt_len[n];
    }
  }
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t i = 0; i < p.tgt_len[n]; ++i) {
      int64_t c = p.labels[p.tgt_off[n] + i];
      DLCORE_CHECK(c >= 0 && c < p.C, IndexError, kOp, ": target ", c, " of batch element ", n,
                   " is out of range for ", p.C, " classes");
    }
  return p;
}

template <class T>
Tensor reduce_loss(const Tensor& nll, const CtcProblem& p, int reduction, bool zero_infinity) {
  const T* v = nll.data<T>();
  const T inf = std::numeric_limits<T>::infinity();
  auto val = [&](int64_t n) { return zero_infinity && v[n] == inf ? T(0) : v[n]; };
  if (reduction == 0) {
    Tensor out = Tensor::empty(IntList{p.N}, nll.dtype());
    for (int64_t n = 0; n < p.N; ++n) out.data<T>()[n] = val(n);
    return out;
  }
  double acc = 0;
  for (int64_t n = 0; n < p.N; ++n)
    acc += reduction == 2 ? (double)val(n) : (double)(val(n) / (T)std::max<int64_t>(p.tgt_len[n], 1));
  if (reduction == 1) acc = p.N ? acc / (double)p.N : std::numeric_limits<double>::quiet_NaN();
  Tensor out = Tensor::empty(IntList{}, nll.dtype());
  out.data<T>()[0] = (T)acc;
  return out;
}

py::tuple ctc_loss_py(py::handle lp_h, py::handle tg_h, py::handle il, py::handle tl, int64_t blank, int reduction,
                      bool zero_infinity, bool need_state, bool save_alpha) {
  const Tensor& lp = as_tensor(lp_h, kOp, "log_probs");
  const Tensor& targets = as_tensor(tg_h, kOp, "targets");
  DLCORE_CHECK(reduction >= 0 && reduction <= 2, ValueError, kOp, ": reduction code ", reduction, " is not valid");
  CtcState st;
  st.p = make_problem(lp, targets, il, tl, blank);
  st.lp = ctc_fwd_op.has(lp.device().type) ? lp.contiguous() : lp.to(Device()).contiguous();
  st.reduction = reduction;
  st.zero_infinity = zero_infinity;
  st.device = lp.device();
  {
    py::gil_scoped_release nogil;
    st.nll = ctc_fwd_op.get(st.lp.device().type)(st.lp, st.p, need_state && save_alpha ? &st.alpha : nullptr);
  }
  const Tensor nll_host = st.nll.to(Device());
  Tensor out = lp.dtype() == DType::Float32 ? reduce_loss<float>(nll_host, st.p, reduction, zero_infinity)
                                            : reduce_loss<double>(nll_host, st.p, reduction, zero_infinity);
  py::object state = need_state ? py::cast(std::move(st)) : py::none();
  return py::make_tuple(wrap(out.to(lp.device())), state);
}

py::object ctc_loss_backward_py(CtcState& st, py::handle g_h) {
  const Tensor& g = as_tensor(g_h, "ctc_loss_backward", "grad");
  const CtcProblem& p = st.p;
  const int64_t want = st.reduction == 0 ? p.N : 1;
  DLCORE_CHECK(g.numel() == want, RuntimeError, "ctc_loss_backward: expected a gradient of ", want,
               " element(s), got shape ", g.shape().str());
  Tensor gh = g.to(Device()).to(DType::Float64).contiguous();
  const double* gv = gh.data<double>();
  std::vector<double> per(p.N);
  for (int64_t n = 0; n < p.N; ++n) {
    if (st.reduction == 0) per[n] = gv[n];
    else if (st.reduction == 2) per[n] = gv[0];
    else per[n] = gv[0] / (double)p.N / (double)std::max<int64_t>(p.tgt_len[n], 1);
  }
  Tensor gn = Tensor::empty(IntList{p.N}, DType::Float64);
  std::copy(per.begin(), per.end(), gn.data<double>());
  gn = gn.to(st.lp.dtype()).to(st.lp.device());
  Tensor grad;
  {
    py::gil_scoped_release nogil;
    grad = ctc_bwd_op.get(st.lp.device().type)(st.lp, p, st.nll, st.alpha, gn, st.zero_infinity);
  }
  return wrap(grad.to(st.device));
}

void bind_ctc(py::module_& m) {
  py::class_<CtcState>(m, "_CtcState", "What the CTC backward needs (log_probs, nll, alphas on the kernel's device).");
  m.def("ctc_loss", &ctc_loss_py, py::arg("log_probs"), py::arg("targets"), py::arg("input_lengths"),
        py::arg("target_lengths"), py::arg("blank") = 0, py::arg("reduction") = 1, py::arg("zero_infinity") = false,
        py::arg("need_state") = false, py::arg("save_alpha") = true,
        "CTC loss (reduction 0 none, 1 mean, 2 sum) -> (loss, state for ctc_loss_backward or None).");
  m.def("ctc_loss_backward", &ctc_loss_backward_py, py::arg("state"), py::arg("grad"),
        "Gradient of log_probs for the loss's upstream gradient (torch's formula).");
}

}  // namespace

static BindingRegistrar reg("ctc", &bind_ctc);

}  // namespace dlcore
