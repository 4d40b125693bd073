// Bindings of the fused optimizer steps (csrc/ops/optim): _C._sgd_step, _adam_step, _adagrad_step, _rmsprop_step,
// _adamax_step, _nadam_step, _radam_step, _adadelta_step, _rprop_step, _asgd_step.
// Each takes Python lists with one entry per parameter of a group and updates all of them in one call (the
// Python optimizers in python/dlcore/optim/ own the state and the hyper-parameters).
#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/optim/optim.h"

namespace dlcore {

namespace {

// A list argument as tensors; an empty result for None when allow_none. Checks length, and for state lists that
// every entry matches its parameter (shape, dtype, device, contiguous, not aliasing the parameter).
TensorList to_list(py::handle h, const char* op, const char* arg, const TensorList* params, bool allow_none,
                   std::vector<PyTensor*>* owners = nullptr, bool read_only = false) {
  TensorList out;
  if (h.is_none()) {
    DLCORE_CHECK(allow_none, TypeError, op, "(): argument '", arg, "' must be a list of tensors, not None");
    return out;
  }
  DLCORE_CHECK(py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h), TypeError, op, "(): argument '", arg,
               "' must be a list of tensors, not ", type_name(h));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  std::size_t n = seq.size();
  if (params) DLCORE_CHECK(n == params->size(), ValueError, op, "(): '", arg, "' has ", n, " entries but there are ",
                           params->size(), " parameters");
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    py::handle item = seq[i];
    PyTensor& pt = as_py_tensor(item, op, arg);
    const Tensor& t = pt.t;
    if (owners) owners->push_back(&pt);
    DLCORE_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "(): ", arg, "[", i,
                 "] must be float32 or float64, got ", dtype_name(t.dtype()));
    DLCORE_CHECK(read_only || t.is_contiguous(), ValueError, op, "(): ", arg, "[", i, "] must be contiguous");
    if (params) {
      const Tensor& p = (*params)[i];
      DLCORE_CHECK(t.shape() == p.shape(), ValueError, op, "(): ", arg, "[", i, "] has shape ", t.shape().str(),
                   " but the parameter has shape ", p.shape().str());
      DLCORE_CHECK(t.dtype() == p.dtype(), TypeError, op, "(): ", arg, "[", i, "] has dtype ", dtype_name(t.dtype()),
                   " but the parameter has dtype ", dtype_name(p.dtype()));
      DLCORE_CHECK(t.device() == p.device(), RuntimeError, op, "(): ", arg, "[", i, "] is on ", t.device().str(),
                   " but the parameter is on ", p.device().str());
      DLCORE_CHECK(t.storage() != p.storage() || t.numel() == 0, ValueError, op, "(): ", arg, "[", i,
                   "] shares memory with its parameter");
    } else if (!out.empty()) {
      DLCORE_CHECK(t.device() == out[0].device(), RuntimeError, op, "(): all parameters of a group must be on one "
                   "device (", out[0].device().str(), " and ", t.device().str(), ")");
    }
    out.push_back(read_only ? t.contiguous() : t);  // gradients are only read: any layout
  }
  return out;
}

void bump(const std::vector<PyTensor*>& owners) {
  for (PyTensor* p : owners) ++p->t.storage()->version;
}

void sgd_py(py::handle params, py::handle grads, py::handle bufs, std::vector<uint8_t> first, double lr,
            double momentum, double dampening, double weight_decay, bool nesterov, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "sgd_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "sgd_step", "grads", &p, false, nullptr, true);
  TensorList b = to_list(bufs, "sgd_step", "momentum_buffers", &p, true, &owners);
  DLCORE_CHECK(first.empty() || first.size() == p.size(), ValueError, "sgd_step(): 'first' has ", first.size(),
               " entries but there are ", p.size(), " parameters");
  if (p.empty()) return;
  SgdArgs a{lr, momentum, dampening, weight_decay, nesterov, maximize};
  {
    py::gil_scoped_release nogil;
    sgd_step_op.get(p[0].device().type)(p, g, b, first, a);
  }
  bump(owners);
}

void adam_py(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs, py::handle max_sqs,
             std::vector<int64_t> steps, double lr, double beta1, double beta2, double eps, double weight_decay,
             bool amsgrad, bool maximize, bool decoupled) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "adam_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "adam_step", "grads", &p, false, nullptr, true);
  TensorList m = to_list(exp_avgs, "adam_step", "exp_avgs", &p, false, &owners);
  TensorList v = to_list(exp_avg_sqs, "adam_step", "exp_avg_sqs", &p, false, &owners);
  TensorList vm = to_list(max_sqs, "adam_step", "max_exp_avg_sqs", &p, true, &owners);
  DLCORE_CHECK(!amsgrad || vm.size() == p.size(), ValueError, "adam_step(): amsgrad needs max_exp_avg_sqs");
  DLCORE_CHECK(steps.size() == p.size(), ValueError, "adam_step(): 'steps' has ", steps.size(),
               " entries but there are ", p.size(), " parameters");
  for (int64_t s : steps) DLCORE_CHECK(s >= 1, ValueError, "adam_step(): step numbers start at 1, got ", s);
  if (p.empty()) return;
  AdamArgs a{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
  {
    py::gil_scoped_release nogil;
    adam_step_op.get(p[0].device().type)(p, g, m, v, vm, steps, a);
  }
  bump(owners);
}

// Capturable Adam (cuda): step_tensors[i] is parameter i's 0-d step tensor (same dtype and device), already
// incremented for this update.
void adam_capturable_py(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs,
                        py::handle max_sqs, py::handle step_tensors, double lr, double beta1, double beta2,
                        double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "adam_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "adam_step", "grads", &p, false, nullptr, true);
  TensorList m = to_list(exp_avgs, "adam_step", "exp_avgs", &p, false, &owners);
  TensorList v = to_list(exp_avg_sqs, "adam_step", "exp_avg_sqs", &p, false, &owners);
  TensorList vm = to_list(max_sqs, "adam_step", "max_exp_avg_sqs", &p, true, &owners);
  TensorList st = to_list(step_tensors, "adam_step", "step_tensors", nullptr, false);
  DLCORE_CHECK(!amsgrad || vm.size() == p.size(), ValueError, "adam_step(): amsgrad needs max_exp_avg_sqs");
  DLCORE_CHECK(st.size() == p.size(), ValueError, "adam_step(): 'step_tensors' has ", st.size(),
               " entries but there are ", p.size(), " parameters");
  for (std::size_t i = 0; i < st.size(); ++i)
    DLCORE_CHECK(st[i].numel() == 1 && st[i].dtype() == p[i].dtype() && st[i].device() == p[i].device(), ValueError,
                 "adam_step(): step_tensors[", i, "] must be a 1-element tensor of the parameter's dtype and device");
  if (p.empty()) return;
  DLCORE_CHECK(p[0].device().is_cuda(), ValueError, "adam_step(): capturable=True needs cuda parameters");
  AdamArgs a{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
  {
    py::gil_scoped_release nogil;
    adam_step_capturable_op.get(p[0].device().type)(p, g, m, v, vm, st, a);
  }
  bump(owners);
}

void adagrad_py(py::handle params, py::handle grads, py::handle sums, std::vector<int64_t> steps, double lr,
                double lr_decay, double weight_decay, double eps, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "adagrad_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "adagrad_step", "grads", &p, false, nullptr, true);
  TensorList s = to_list(sums, "adagrad_step", "state_sums", &p, false, &owners);
  DLCORE_CHECK(steps.size() == p.size(), ValueError, "adagrad_step(): 'steps' has ", steps.size(),
               " entries but there are ", p.size(), " parameters");
  for (int64_t st : steps) DLCORE_CHECK(st >= 1, ValueError, "adagrad_step(): step numbers start at 1, got ", st);
  if (p.empty()) return;
  AdagradArgs a{lr, lr_decay, weight_decay, eps, maximize};
  {
    py::gil_scoped_release nogil;
    adagrad_step_op.get(p[0].device().type)(p, g, s, steps, a);
  }
  bump(owners);
}

void rmsprop_py(py::handle params, py::handle grads, py::handle square_avgs, py::handle grad_avgs, py::handle bufs,
                double lr, double alpha, double eps, double weight_decay, double momentum, bool centered,
                bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "rmsprop_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "rmsprop_step", "grads", &p, false, nullptr, true);
  TensorList sq = to_list(square_avgs, "rmsprop_step", "square_avgs", &p, false, &owners);
  TensorList ga = to_list(grad_avgs, "rmsprop_step", "grad_avgs", &p, true, &owners);
  TensorList b = to_list(bufs, "rmsprop_step", "momentum_buffers", &p, true, &owners);
  DLCORE_CHECK(!centered || ga.size() == p.size(), ValueError, "rmsprop_step(): centered needs grad_avgs");
  DLCORE_CHECK(momentum <= 0 || b.size() == p.size(), ValueError, "rmsprop_step(): momentum needs buffers");
  if (p.empty()) return;
  RmspropArgs a{lr, alpha, eps, weight_decay, momentum, centered, maximize};
  {
    py::gil_scoped_release nogil;
    rmsprop_step_op.get(p[0].device().type)(p, g, sq, ga, b, a);
  }
  bump(owners);
}

void check_steps(const std::vector<int64_t>& steps, const TensorList& p, const char* op) {
  DLCORE_CHECK(steps.size() == p.size(), ValueError, op, "(): 'steps' has ", steps.size(), " entries but there are ",
               p.size(), " parameters");
  for (int64_t s : steps) DLCORE_CHECK(s >= 1, ValueError, op, "(): step numbers start at 1, got ", s);
}

void check_scalars(const std::vector<double>& v, const TensorList& p, const char* op, const char* arg) {
  DLCORE_CHECK(v.size() == p.size(), ValueError, op, "(): '", arg, "' has ", v.size(), " entries but there are ",
               p.size(), " parameters");
}

void adamax_py(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_infs,
               std::vector<int64_t> steps, double lr, double beta1, double beta2, double eps, double weight_decay,
               bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "adamax_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "adamax_step", "grads", &p, false, nullptr, true);
  TensorList m = to_list(exp_avgs, "adamax_step", "exp_avgs", &p, false, &owners);
  TensorList u = to_list(exp_infs, "adamax_step", "exp_infs", &p, false, &owners);
  check_steps(steps, p, "adamax_step");
  if (p.empty()) return;
  AdamaxArgs a{lr, beta1, beta2, eps, weight_decay, maximize};
  {
    py::gil_scoped_release nogil;
    adamax_step_op.get(p[0].device().type)(p, g, m, u, steps, a);
  }
  bump(owners);
}

void nadam_py(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs,
              std::vector<int64_t> steps, std::vector<double> mu_products, double lr, double beta1, double beta2,
              double eps, double weight_decay, double momentum_decay, bool decoupled_weight_decay, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "nadam_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "nadam_step", "grads", &p, false, nullptr, true);
  TensorList m = to_list(exp_avgs, "nadam_step", "exp_avgs", &p, false, &owners);
  TensorList v = to_list(exp_avg_sqs, "nadam_step", "exp_avg_sqs", &p, false, &owners);
  check_steps(steps, p, "nadam_step");
  check_scalars(mu_products, p, "nadam_step", "mu_products");
  if (p.empty()) return;
  NadamArgs a{lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize};
  {
    py::gil_scoped_release nogil;
    nadam_step_op.get(p[0].device().type)(p, g, m, v, steps, mu_products, a);
  }
  bump(owners);
}

void radam_py(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs,
              std::vector<int64_t> steps, double lr, double beta1, double beta2, double eps, double weight_decay,
              bool decoupled_weight_decay, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "radam_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "radam_step", "grads", &p, false, nullptr, true);
  TensorList m = to_list(exp_avgs, "radam_step", "exp_avgs", &p, false, &owners);
  TensorList v = to_list(exp_avg_sqs, "radam_step", "exp_avg_sqs", &p, false, &owners);
  check_steps(steps, p, "radam_step");
  if (p.empty()) return;
  RadamArgs a{lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize};
  {
    py::gil_scoped_release nogil;
    radam_step_op.get(p[0].device().type)(p, g, m, v, steps, a);
  }
  bump(owners);
}

void adadelta_py(py::handle params, py::handle grads, py::handle square_avgs, py::handle acc_deltas, double lr,
                 double rho, double eps, double weight_decay, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "adadelta_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "adadelta_step", "grads", &p, false, nullptr, true);
  TensorList s = to_list(square_avgs, "adadelta_step", "square_avgs", &p, false, &owners);
  TensorList acc = to_list(acc_deltas, "adadelta_step", "acc_deltas", &p, false, &owners);
  if (p.empty()) return;
  AdadeltaArgs a{lr, rho, eps, weight_decay, maximize};
  {
    py::gil_scoped_release nogil;
    adadelta_step_op.get(p[0].device().type)(p, g, s, acc, a);
  }
  bump(owners);
}

void rprop_py(py::handle params, py::handle grads, py::handle prevs, py::handle step_sizes, double eta_minus,
              double eta_plus, double step_size_min, double step_size_max, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "rprop_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "rprop_step", "grads", &p, false, nullptr, true);
  TensorList pr = to_list(prevs, "rprop_step", "prevs", &p, false, &owners);
  TensorList st = to_list(step_sizes, "rprop_step", "step_sizes", &p, false, &owners);
  if (p.empty()) return;
  RpropArgs a{eta_minus, eta_plus, step_size_min, step_size_max, maximize};
  {
    py::gil_scoped_release nogil;
    rprop_step_op.get(p[0].device().type)(p, g, pr, st, a);
  }
  bump(owners);
}

void asgd_py(py::handle params, py::handle grads, py::handle axs, std::vector<double> etas, std::vector<double> mus,
             double lambd, double weight_decay, bool maximize) {
  std::vector<PyTensor*> owners;
  TensorList p = to_list(params, "asgd_step", "params", nullptr, false, &owners);
  TensorList g = to_list(grads, "asgd_step", "grads", &p, false, nullptr, true);
  TensorList ax = to_list(axs, "asgd_step", "axs", &p, false, &owners);
  check_scalars(etas, p, "asgd_step", "etas");
  check_scalars(mus, p, "asgd_step", "mus");
  if (p.empty()) return;
  AsgdArgs a{lambd, weight_decay, maximize};
  {
    py::gil_scoped_release nogil;
    asgd_step_op.get(p[0].device().type)(p, g, ax, etas, mus, a);
  }
  bump(owners);
}

void bind_optim(py::module_& m) {
  m.def("_sgd_step", &sgd_py, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("first"),
        py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        py::arg("maximize"), "Fused SGD step over a group's parameters (in place).");
  m.def("_adam_step", &adam_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("max_exp_avg_sqs"), py::arg("steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
        py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"),
        "Fused Adam/AdamW step over a group's parameters (in place).");
  m.def("_adam_step_capturable", &adam_capturable_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
        py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("step_tensors"), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
        py::arg("maximize"), py::arg("decoupled"),
        "Fused Adam/AdamW step reading each parameter's step number from a device tensor (CUDA graphs).");
  m.def("_adagrad_step", &adagrad_py, py::arg("params"), py::arg("grads"), py::arg("state_sums"), py::arg("steps"),
        py::arg("lr"), py::arg("lr_decay"), py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"),
        "Fused Adagrad step over a group's parameters (in place).");
  m.def("_rmsprop_step", &rmsprop_py, py::arg("params"), py::arg("grads"), py::arg("square_avgs"),
        py::arg("grad_avgs"), py::arg("momentum_buffers"), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"), py::arg("maximize"),
        "Fused RMSprop step over a group's parameters (in place).");
  m.def("_adamax_step", &adamax_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_infs"),
        py::arg("steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("maximize"), "Fused Adamax step over a group's parameters (in place).");
  m.def("_nadam_step", &nadam_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("steps"), py::arg("mu_products"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("momentum_decay"), py::arg("decoupled_weight_decay"), py::arg("maximize"),
        "Fused NAdam step over a group's parameters (in place); mu_products include this step's mu.");
  m.def("_radam_step", &radam_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("decoupled_weight_decay"), py::arg("maximize"),
        "Fused RAdam step over a group's parameters (in place).");
  m.def("_adadelta_step", &adadelta_py, py::arg("params"), py::arg("grads"), py::arg("square_avgs"),
        py::arg("acc_deltas"), py::arg("lr"), py::arg("rho"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("maximize"), "Fused Adadelta step over a group's parameters (in place).");
  m.def("_rprop_step", &rprop_py, py::arg("params"), py::arg("grads"), py::arg("prevs"), py::arg("step_sizes"),
        py::arg("eta_minus"), py::arg("eta_plus"), py::arg("step_size_min"), py::arg("step_size_max"),
        py::arg("maximize"), "Fused Rprop step over a group's parameters (in place).");
  m.def("_asgd_step", &asgd_py, py::arg("params"), py::arg("grads"), py::arg("axs"), py::arg("etas"), py::arg("mus"),
        py::arg("lambd"), py::arg("weight_decay"), py::arg("maximize"),
        "Fused ASGD step over a group's parameters (in place); etas/mus are each parameter's values before it.");
}

}  // namespace

static BindingRegistrar reg("optim", &bind_optim);

}  // namespace dlcore
