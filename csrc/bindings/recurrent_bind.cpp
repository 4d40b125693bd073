// Bindings of the recurrent family: one layer (one or two directions) forward and backward. Raw kernels; autograd,
// layers, dropout and batch_first live in python/dlcore/_nn_rnn.py. Dispatch is on the input's device (cpu or cuda);
// every other tensor must be on that device. Every argument is validated here too, so no input reachable from Python
// can crash the process (the Python layer gives the friendlier messages first).
//
//   rnn_layer_forward(mode, x, h0, c0, params, hn_out=None, cn_out=None, training=True)
//       -> (y, hn, cn | None, workspace)   training=False (no backward will follow): the CPU kernel may return an
//       incomplete workspace and skips the stores only the backward needs (GRU gate states, LSTM c of every step)
//   rnn_layer_backward(mode, x, h0, c0, params, y, workspace, dy, dhn, dcn, need_dx, dh0_out=None, dc0_out=None,
//                      need_dh0=True) -> (dx | None, dh0 | None, dc0 | None, [param grads])
//       need_dh0=False (CPU, no dh0_out): dh0 is not computed (None), which skips the first step's dh GEMM.
// mode: "lstm" | "gru" | "rnn_tanh" | "rnn_relu". x [T, N, I]; h0/c0 [D, N, H]; params: per direction
// w_ih, w_hh (+ b_ih, b_hh), so len(params) is 2*D or 4*D.
#include <string>
#include <vector>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/recurrent/recurrent.h"

namespace dlcore {

namespace {

RnnMode parse_mode(const std::string& s) {
  if (s == "lstm") return RnnMode::LSTM;
  if (s == "gru") return RnnMode::GRU;
  if (s == "rnn_tanh") return RnnMode::RNN_TANH;
  if (s == "rnn_relu") return RnnMode::RNN_RELU;
  DLCORE_THROW(ValueError, "rnn_layer: unknown mode '", s, "' (expected lstm, gru, rnn_tanh or rnn_relu)");
}

std::string shape_str(const Tensor& t) { return t.shape().str(); }

void check_tensor(const Tensor& t, DType dt, Device dev, const IntList& shape, const char* what) {
  DLCORE_CHECK(t.device() == dev, RuntimeError, "rnn_layer: ", what, " is on ", t.device().str(),
               ", but the input is on ", dev.str());
  DLCORE_CHECK(t.dtype() == dt, TypeError, "rnn_layer: ", what, " has dtype ", dtype_name(t.dtype()), ", expected ",
               dtype_name(dt), " (the dtype of the input)");
  DLCORE_CHECK(t.shape() == shape, ValueError, "rnn_layer: ", what, " has shape ", shape_str(t), ", expected ",
               shape.str());
}

// A matrix the GEMM can read in place (positive strides), else a contiguous copy.
Tensor gemm_ready(const Tensor& t) {
  for (int i = 0; i < t.dim(); ++i)
    if (t.stride(i) <= 0) return t.clone();
  return t;
}

struct Layer {
  RnnMode mode;
  Tensor x, h0, c0;
  std::vector<RnnWeights> dirs;
  int64_t T, N, I, H, D;
};

Layer parse_layer(const std::string& mode_s, py::handle xh, py::handle h0h, py::handle c0h, py::handle params) {
  Layer L;
  L.mode = parse_mode(mode_s);
  Tensor x = as_tensor(xh, "rnn_layer", "input");
  DLCORE_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, TypeError,
               "rnn_layer: expected a float32 or float64 input, got ", dtype_name(x.dtype()));
  DLCORE_CHECK(x.dim() == 3, ValueError, "rnn_layer: input must be 3-D [T, N, I], got shape ", shape_str(x));
  L.T = x.size(0);
  L.N = x.size(1);
  L.I = x.size(2);
  DLCORE_CHECK(L.T >= 1 && L.N >= 1 && L.I >= 1, ValueError, "rnn_layer: input shape ", shape_str(x),
               " has an empty dimension");
  // Rows (t, n) evenly spaced with positive strides (see make_dims in recurrent_cpu.cpp), else a contiguous copy.
  bool ok = x.stride(2) > 0;
  if (L.N > 1) ok = ok && x.stride(1) > 0 && (L.T == 1 || x.stride(0) == L.N * x.stride(1));
  else if (L.T > 1) ok = ok && x.stride(0) > 0;
  if (!ok) x = x.clone();
  L.x = x;
  Tensor h0 = as_tensor(h0h, "rnn_layer", "h0");
  DLCORE_CHECK(h0.dim() == 3, ValueError, "rnn_layer: h0 must be 3-D [D, N, H], got shape ", shape_str(h0));
  L.D = h0.size(0);
  DLCORE_CHECK(L.D == 1 || L.D == 2, ValueError, "rnn_layer: h0 has ", L.D, " directions (dim 0), expected 1 or 2");
  L.H = h0.size(2);
  DLCORE_CHECK(L.H >= 1, ValueError, "rnn_layer: hidden size must be positive, got h0 shape ", shape_str(h0));
  check_tensor(h0, x.dtype(), x.device(), {L.D, L.N, L.H}, "h0");
  L.h0 = h0.contiguous();
  if (L.mode == RnnMode::LSTM) {
    DLCORE_CHECK(!c0h.is_none(), ValueError, "rnn_layer: lstm needs c0");
    Tensor c0 = as_tensor(c0h, "rnn_layer", "c0");
    check_tensor(c0, x.dtype(), x.device(), {L.D, L.N, L.H}, "c0");
    L.c0 = c0.contiguous();
  }
  py::list pl = py::reinterpret_borrow<py::list>(params);
  int64_t np_ = (int64_t)pl.size();
  DLCORE_CHECK(np_ == 2 * L.D || np_ == 4 * L.D, ValueError, "rnn_layer: expected ", 2 * L.D, " or ", 4 * L.D,
               " parameters for ", L.D, " direction(s), got ", np_);
  int64_t per = np_ / L.D, GH = rnn_num_gates(L.mode) * L.H;
  for (int64_t d = 0; d < L.D; ++d) {
    RnnWeights w;
    w.w_ih = as_tensor(pl[d * per], "rnn_layer", "weight_ih");
    w.w_hh = as_tensor(pl[d * per + 1], "rnn_layer", "weight_hh");
    check_tensor(w.w_ih, x.dtype(), x.device(), {GH, L.I}, "weight_ih");
    check_tensor(w.w_hh, x.dtype(), x.device(), {GH, L.H}, "weight_hh");
    w.w_ih = gemm_ready(w.w_ih);
    w.w_hh = gemm_ready(w.w_hh);
    if (per == 4) {
      w.b_ih = as_tensor(pl[d * per + 2], "rnn_layer", "bias_ih");
      w.b_hh = as_tensor(pl[d * per + 3], "rnn_layer", "bias_hh");
      check_tensor(w.b_ih, x.dtype(), x.device(), {GH}, "bias_ih");
      check_tensor(w.b_hh, x.dtype(), x.device(), {GH}, "bias_hh");
      w.b_ih = w.b_ih.contiguous();
      w.b_hh = w.b_hh.contiguous();
    }
    L.dirs.push_back(w);
  }
  return L;
}

Tensor out_or_new(py::handle h, const Layer& L, const char* what) {
  IntList shape{L.D, L.N, L.H};
  if (h.is_none()) return Tensor::empty(shape, L.x.dtype(), L.x.device());
  Tensor t = as_tensor(h, "rnn_layer", what);
  check_tensor(t, L.x.dtype(), L.x.device(), shape, what);
  DLCORE_CHECK(t.is_contiguous(), ValueError, "rnn_layer: ", what, " must be contiguous");
  return t;
}

py::tuple layer_forward(const std::string& mode, py::handle x, py::handle h0, py::handle c0, py::handle params,
                        py::handle hn_out, py::handle cn_out, bool training) {
  Layer L = parse_layer(mode, x, h0, c0, params);
  Tensor y = Tensor::empty({L.T, L.N, L.D * L.H}, L.x.dtype(), L.x.device());
  Tensor hn = out_or_new(hn_out, L, "hn_out"), cn;
  if (L.mode == RnnMode::LSTM) cn = out_or_new(cn_out, L, "cn_out");
  std::vector<std::vector<Tensor>> ws;
  {
    py::gil_scoped_release nogil;
    rnn_layer_forward_op.get(L.x.device().type)(L.mode, L.x, L.h0, L.c0, L.dirs, y, hn, cn, ws, training);
  }
  py::list wl;
  for (auto& v : ws) {
    py::list one;
    for (auto& t : v) one.append(wrap(t));
    wl.append(one);
  }
  return py::make_tuple(wrap(y), wrap(hn), cn.defined() ? wrap(cn) : py::none(), wl);
}

py::tuple layer_backward(const std::string& mode, py::handle x, py::handle h0, py::handle c0, py::handle params,
                         py::handle yh, py::handle wsh, py::handle dyh, py::handle dhnh, py::handle dcnh, bool need_dx,
                         py::handle dh0_out, py::handle dc0_out, bool need_dh0) {
  Layer L = parse_layer(mode, x, h0, c0, params);
  Tensor y = as_tensor(yh, "rnn_layer", "output");
  check_tensor(y, L.x.dtype(), L.x.device(), {L.T, L.N, L.D * L.H}, "output");
  DLCORE_CHECK(y.is_contiguous(), ValueError, "rnn_layer: the saved output must be contiguous");
  std::vector<std::vector<Tensor>> ws;
  py::list wl = py::reinterpret_borrow<py::list>(wsh);
  DLCORE_CHECK((int64_t)wl.size() == L.D, ValueError, "rnn_layer: workspace has ", wl.size(), " entries, expected ",
               L.D);
  const int64_t G = rnn_num_gates(L.mode) * L.H;
  for (py::handle e : wl) {
    std::vector<Tensor> v;
    for (py::handle t : py::reinterpret_borrow<py::list>(e)) v.push_back(as_tensor(t, "rnn_layer", "workspace"));
    // The saved layout of recurrent.h: LSTM (GX [4H, T*N], cT [T, H, N]); GRU (S [T, 4H, N], hT); RNN (hT).
    std::vector<IntList> expect;
    if (L.mode == RnnMode::LSTM) expect = {IntList{G, L.T * L.N}, IntList{L.T, L.H, L.N}};
    else if (L.mode == RnnMode::GRU) expect = {IntList{L.T, 4 * L.H, L.N}, IntList{L.T, L.H, L.N}};
    else expect = {IntList{L.T, L.H, L.N}};
    DLCORE_CHECK(v.size() == expect.size(), ValueError, "rnn_layer: workspace entry has ", v.size(),
                 " tensors, expected ", expect.size());
    for (size_t i = 0; i < v.size(); ++i) check_tensor(v[i], L.x.dtype(), L.x.device(), expect[i], "workspace");
    for (auto& t : v) DLCORE_CHECK(t.is_contiguous(), ValueError, "rnn_layer: workspace must be contiguous");
    ws.push_back(std::move(v));
  }
  Tensor dy, dhn, dcn;
  if (!dyh.is_none()) {
    dy = as_tensor(dyh, "rnn_layer", "grad_output");
    check_tensor(dy, L.x.dtype(), L.x.device(), {L.T, L.N, L.D * L.H}, "grad_output");
    dy = dy.contiguous();
  }
  if (!dhnh.is_none()) {
    dhn = as_tensor(dhnh, "rnn_layer", "grad_hn");
    check_tensor(dhn, L.x.dtype(), L.x.device(), {L.D, L.N, L.H}, "grad_hn");
    dhn = dhn.contiguous();
  }
  if (!dcnh.is_none() && L.mode == RnnMode::LSTM) {
    dcn = as_tensor(dcnh, "rnn_layer", "grad_cn");
    check_tensor(dcn, L.x.dtype(), L.x.device(), {L.D, L.N, L.H}, "grad_cn");
    dcn = dcn.contiguous();
  }
  Tensor dx;
  if (need_dx) dx = Tensor::empty({L.T, L.N, L.I}, L.x.dtype(), L.x.device());
  // need_dh0 = False (h0 needs no gradient): the CPU kernel skips the dh0 GEMM and None is returned for it.
  Tensor dh0, dc0;
  if (need_dh0 || !dh0_out.is_none() || L.x.device().type != DeviceType::CPU) dh0 = out_or_new(dh0_out, L, "dh0_out");
  if (L.mode == RnnMode::LSTM) dc0 = out_or_new(dc0_out, L, "dc0_out");
  std::vector<RnnWeights> grads;
  for (auto& w : L.dirs) {
    RnnWeights g;
    g.w_ih = Tensor::empty(w.w_ih.shape(), L.x.dtype(), L.x.device());
    g.w_hh = Tensor::empty(w.w_hh.shape(), L.x.dtype(), L.x.device());
    if (w.b_ih.defined()) {
      g.b_ih = Tensor::empty(w.b_ih.shape(), L.x.dtype(), L.x.device());
      g.b_hh = Tensor::empty(w.b_hh.shape(), L.x.dtype(), L.x.device());
    }
    grads.push_back(g);
  }
  {
    py::gil_scoped_release nogil;
    rnn_layer_backward_op.get(L.x.device().type)(L.mode, L.x, L.h0, L.c0, L.dirs, y, ws, dy, dhn, dcn, dx, dh0,
                                                 dc0, grads);
  }
  py::list gl;
  for (auto& g : grads) {
    gl.append(wrap(g.w_ih));
    gl.append(wrap(g.w_hh));
    if (g.b_ih.defined()) {
      gl.append(wrap(g.b_ih));
      gl.append(wrap(g.b_hh));
    }
  }
  return py::make_tuple(dx.defined() ? wrap(dx) : py::none(), dh0.defined() ? wrap(dh0) : py::none(), dc0.defined() ? wrap(dc0) : py::none(), gl);
}

void bind_recurrent(py::module_& m) {
  m.def("rnn_layer_forward", &layer_forward, py::arg("mode"), py::arg("input"), py::arg("h0"), py::arg("c0"),
        py::arg("params"), py::arg("hn_out") = py::none(), py::arg("cn_out") = py::none(),
        py::arg("training") = true);
  m.def("rnn_layer_backward", &layer_backward, py::arg("mode"), py::arg("input"), py::arg("h0"), py::arg("c0"),
        py::arg("params"), py::arg("output"), py::arg("workspace"), py::arg("grad_output"), py::arg("grad_hn"),
        py::arg("grad_cn"), py::arg("need_dx"), py::arg("dh0_out") = py::none(), py::arg("dc0_out") = py::none(),
        py::arg("need_dh0") = true);
}

BindingRegistrar reg("recurrent", &bind_recurrent);

}  // namespace

}  // namespace dlcore
