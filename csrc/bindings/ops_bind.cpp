// Bindings of the foundation's ops: elementwise (binary, unary, where), reductions, matmul/linear, random and
// creation ops, and the runtime services (threads, ISA, info). These are raw kernels: autograd is added by the
// Python layer (python/dlcore/), which calls them.
#include "dlcore_build_info.h"
#include <cmath>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "core/overlap.h"
#include "core/allocator.h"
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/linalg/linalg.h"
#include "ops/random/random.h"
#include "ops/reduce/reduce.h"

namespace dlcore {

namespace {

// An operand: a tensor, or a Python number turned into a 0-d CPU tensor of the compute dtype.
struct Operand {
  const Tensor* t = nullptr;
  ScalarArg s;
  bool is_scalar = false;
};

Operand to_operand(py::handle h, const char* op, const char* arg) {
  Operand o;
  if (is_tensor(h)) {
    o.t = &h.cast<PyTensor&>().t;
    return o;
  }
  if (to_scalar(h, o.s)) {
    o.is_scalar = true;
    return o;
  }
  DLCORE_THROW(TypeError, op, "(): argument '", arg, "' must be a Tensor or a number, not ",
               type_name(h));
}

DType binary_compute_dtype(BinaryOp op, const Operand& a, const Operand& b) {
  DType dt = result_type(a.t, a.is_scalar ? &a.s : nullptr, b.t, b.is_scalar ? &b.s : nullptr);
  if (binary_promotes_int_to_float(op) && !is_floating(dt)) dt = DType::Float32;  // true division, atan2, ...
  return dt;
}

Tensor materialize(const Operand& o, DType dt) { return o.is_scalar ? scalar_tensor(o.s, dt) : *o.t; }
// A binary op's operand: a number through scalar_operand (its 16-bit and bool rules).
Tensor materialize(const Operand& o, DType dt, BinaryOp op) { return o.is_scalar ? scalar_operand(o.s, dt, op) : *o.t; }

py::object binary_py(BinaryOp op, py::handle a, py::handle b) {
  const char* name = binary_op_name(op);
  Operand oa = to_operand(a, name, "input"), ob = to_operand(b, name, "other");
  DLCORE_CHECK(!(oa.is_scalar && ob.is_scalar), TypeError, name, "(): at least one argument must be a Tensor");
  DType dt = binary_compute_dtype(op, oa, ob);
  Tensor ta = oa.is_scalar ? scalar_operand(oa.s, dt, op) : *oa.t;
  Tensor tb = ob.is_scalar ? scalar_operand(ob.s, dt, op) : *ob.t;
  return wrap(binary(op, ta, tb, dt));
}

bool can_cast(DType from, DType to) { return dtype_category(from) <= dtype_category(to); }

// In-place: a = op(a, b); the result dtype must be castable to a's dtype (torch's rule).
py::object binary_inplace_py(BinaryOp op, py::object a, py::handle b) {
  const char* name = binary_op_name(op);
  PyTensor& pa = as_py_tensor(a, name, "self");
  Operand oa = to_operand(a, name, "self"), ob = to_operand(b, name, "other");
  DType dt = binary_compute_dtype(op, oa, ob);
  DType out_dt = (binary_is_comparison(op) || binary_is_logical(op)) ? DType::Bool : dt;
  DLCORE_CHECK(can_cast(out_dt, pa.t.dtype()), TypeError, name, "_: result type ", dtype_name(out_dt),
               " can't be cast to the desired output type ", dtype_name(pa.t.dtype()));
  check_no_internal_overlap(pa.t, (std::string(name) + "_").c_str());
  Tensor tb = materialize(ob, dt, op);
  if (!ob.is_scalar && tb.storage() == pa.t.storage() && tb.raw_data() != pa.t.raw_data()) tb = tb.clone();
  binary_into(op, pa.t, pa.t, tb, dt);
  ++pa.t.storage()->version;
  return a;
}

py::object binary_out_py(BinaryOp op, py::object out, py::handle a, py::handle b) {
  const char* name = binary_op_name(op);
  PyTensor& po = as_py_tensor(out, name, "out");
  check_no_internal_overlap(po.t, name);
  Operand oa = to_operand(a, name, "input"), ob = to_operand(b, name, "other");
  DType dt = binary_compute_dtype(op, oa, ob);
  binary_into(op, po.t, materialize(oa, dt, op), materialize(ob, dt, op), dt);
  ++po.t.storage()->version;
  return out;
}

UnaryParams clamp_params(py::handle lo, py::handle hi) {
  UnaryParams p;
  if (!lo.is_none()) {
    p.has_a = true;
    p.a = lo.cast<double>();
  }
  if (!hi.is_none()) {
    p.has_b = true;
    p.b = hi.cast<double>();
  }
  return p;
}

IntList dims_arg(py::handle dim, int ndim, const char* op) {
  if (dim.is_none()) return IntList{};
  IntList d = to_intlist(dim, op, "dim");
  if (d.empty()) return IntList{};  // torch: dim=[] reduces all
  return d;
}

void bind_ops(py::module_& m) {
  // ---- binary ----
  for (int i = 0; i < kNumBinaryOps; ++i) {
    BinaryOp op = (BinaryOp)i;
    std::string name = binary_op_name(op);
    m.def(name.c_str(), [op](py::handle a, py::handle b) { return binary_py(op, a, b); });
    m.def((name + "_").c_str(), [op](py::object a, py::handle b) { return binary_inplace_py(op, a, b); });
    m.def((name + "_out").c_str(),
          [op](py::object out, py::handle a, py::handle b) { return binary_out_py(op, out, a, b); });
  }
  // ---- unary ----
  for (int i = 0; i < kNumUnaryOps; ++i) {
    UnaryOp op = (UnaryOp)i;
    if (op == UnaryOp::Clamp || op == UnaryOp::PowScalar || op == UnaryOp::Logit || op == UnaryOp::NanToNum)
      continue;  // (parameterised: bound below)
    std::string name = unary_op_name(op);
    m.def(name.c_str(), [op](const PyTensor& x) { return wrap(unary(op, x.t)); });
    m.def((name + "_").c_str(), [op](py::object x) {
      PyTensor& p = as_py_tensor(x, unary_op_name(op), "self");
      DType out = unary_out_is_bool(op) ? DType::Bool : (unary_is_float_only(op) && !is_floating(p.t.dtype()) ? DType::Float32 : p.t.dtype());
      DLCORE_CHECK(out == p.t.dtype(), TypeError, unary_op_name(op), "_: result type ", dtype_name(out),
                   " can't be cast to the desired output type ", dtype_name(p.t.dtype()));
      check_no_internal_overlap(p.t, (std::string(unary_op_name(op)) + "_").c_str());
      unary_into(op, p.t, p.t);
      ++p.t.storage()->version;
      return x;
    });
  }
  m.def("clamp", [](const PyTensor& x, py::handle lo, py::handle hi) {
    DLCORE_CHECK(!lo.is_none() || !hi.is_none(), ValueError, "clamp: at least one of min and max must be given");
    return wrap(unary(UnaryOp::Clamp, x.t, clamp_params(lo, hi)));
  });
  m.def("clamp_", [](py::object x, py::handle lo, py::handle hi) {
    PyTensor& p = as_py_tensor(x, "clamp_", "self");
    check_no_internal_overlap(p.t, "clamp_");
    unary_into(UnaryOp::Clamp, p.t, p.t, clamp_params(lo, hi));
    ++p.t.storage()->version;
    return x;
  });
  // logit(x, eps): eps None (or negative, as torch) is no clamp. nan_to_num(x, nan, posinf, neginf): the Python
  // layer resolves the defaults (0, the dtype's largest and lowest finite values).
  auto logit_params = [](py::handle eps) {
    UnaryParams p;
    if (!eps.is_none()) {
      p.a = eps.cast<double>();
      p.has_a = p.a >= 0;
    }
    return p;
  };
  auto nan_params = [](double nan, double posinf, double neginf) {
    UnaryParams p;
    p.a = nan;
    p.b = posinf;
    p.c = neginf;
    return p;
  };
  auto unary_inplace = [](py::object x, UnaryOp op, const UnaryParams& prm) {
    const char* name = unary_op_name(op);
    PyTensor& p = as_py_tensor(x, name, "self");
    DLCORE_CHECK(is_floating(p.t.dtype()) || op == UnaryOp::NanToNum, TypeError, name, "_: result type Float",
                 " can't be cast to the desired output type ", dtype_name(p.t.dtype()));
    check_no_internal_overlap(p.t, (std::string(name) + "_").c_str());
    unary_into(op, p.t, p.t, prm);
    ++p.t.storage()->version;
    return x;
  };
  m.def("logit", [logit_params](const PyTensor& x, py::handle eps) {
    return wrap(unary(UnaryOp::Logit, x.t, logit_params(eps)));
  }, py::arg("x"), py::arg("eps") = py::none());
  m.def("logit_", [logit_params, unary_inplace](py::object x, py::handle eps) {
    return unary_inplace(x, UnaryOp::Logit, logit_params(eps));
  }, py::arg("x"), py::arg("eps") = py::none());
  m.def("nan_to_num", [nan_params](const PyTensor& x, double nan, double posinf, double neginf) {
    return wrap(unary(UnaryOp::NanToNum, x.t, nan_params(nan, posinf, neginf)));
  });
  m.def("nan_to_num_", [nan_params, unary_inplace](py::object x, double nan, double posinf, double neginf) {
    return unary_inplace(x, UnaryOp::NanToNum, nan_params(nan, posinf, neginf));
  });
  m.def("pow_scalar", [](const PyTensor& x, py::handle e) {
    ScalarArg s;
    DLCORE_CHECK(to_scalar(e, s), TypeError, "pow: exponent must be a number");
    Tensor xt = x.t;
    if (s.kind == ScalarArg::Float && !is_floating(xt.dtype())) xt = xt.to(DType::Float32);
    UnaryParams p;
    p.a = s.kind == ScalarArg::Float ? s.d : (double)s.i;
    return wrap(unary(UnaryOp::PowScalar, xt, p));
  });
  // self += alpha * other in one pass when add_scaled_inplace_cpu takes the case (elementwise.h); False otherwise
  m.def("_add_scaled_", [](PyTensor& self, const PyTensor& other, double alpha) {
    if (!add_scaled_inplace_cpu(self.t, other.t, alpha)) return false;
    ++self.t.storage()->version;
    return true;
  });
  // addcmul / addcdiv / lerp in one pass when fused_ternary_cpu takes the case (elementwise.h); None otherwise
  m.def("_fused_ternary_cpu", [](int kind, const PyTensor& a, const PyTensor& b, py::handle c, double s) -> py::object {
    Tensor ct = c.is_none() ? Tensor() : as_tensor(c, "addcmul", "tensor2");
    Tensor r = fused_ternary_cpu(kind, a.t, b.t, ct, s);
    if (!r.defined()) return py::none();
    return wrap(r);
  });
  m.def("where", [](const PyTensor& c, py::handle a, py::handle b) {
    Operand oa = to_operand(a, "where", "input"), ob = to_operand(b, "where", "other");
    DType dt = result_type(oa.t, oa.is_scalar ? &oa.s : nullptr, ob.t, ob.is_scalar ? &ob.s : nullptr);
    return wrap(where(c.t, materialize(oa, dt), materialize(ob, dt)));
  });
  m.def("result_type", [](py::handle a, py::handle b) {
    Operand oa = to_operand(a, "result_type", "tensor1"), ob = to_operand(b, "result_type", "tensor2");
    return result_type(oa.t, oa.is_scalar ? &oa.s : nullptr, ob.t, ob.is_scalar ? &ob.s : nullptr);
  });
  m.def("promote_types", [](DType a, DType b) { return promote_types(a, b); });

  // ---- reductions ----
  auto def_reduce = [&](const char* name, ReduceOp op) {
    m.def(name, [op, name](const PyTensor& x, py::handle dim, bool keepdim) {
      return wrap(reduce(op, x.t, dims_arg(dim, x.t.dim(), name), keepdim));
    }, py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);
  };
  def_reduce("sum", ReduceOp::Sum);
  def_reduce("prod", ReduceOp::Prod);
  def_reduce("amax", ReduceOp::Max);
  def_reduce("amin", ReduceOp::Min);
  def_reduce("any", ReduceOp::Any);
  def_reduce("all", ReduceOp::All);
  m.def("mean", [](const PyTensor& x, py::handle dim, bool keepdim) {
    return wrap(mean(x.t, dims_arg(dim, x.t.dim(), "mean"), keepdim));
  }, py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);
  m.def("var", [](const PyTensor& x, py::handle dim, double correction, bool keepdim) {
    return wrap(var(x.t, dims_arg(dim, x.t.dim(), "var"), correction, keepdim));
  }, py::arg("x"), py::arg("dim") = py::none(), py::arg("correction") = 1.0, py::arg("keepdim") = false);
  m.def("logsumexp", [](const PyTensor& x, py::handle dim, bool keepdim) {
    return wrap(logsumexp(x.t, dims_arg(dim, x.t.dim(), "logsumexp"), keepdim));
  }, py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);
  m.def("_sumsq_rows", [](const PyTensor& x) { return wrap(sumsq_rows(x.t)); }, py::arg("x"),
        "Sum of squares of each row of a contiguous 2-D float32 cpu tensor (the fused 2-norm).");
  m.def("argmax", [](const PyTensor& x, py::handle dim, bool keepdim) {
    return wrap(arg_reduce(ReduceOp::ArgMax, x.t, dim.is_none() ? 0 : dim.cast<int64_t>(), dim.is_none(), keepdim));
  }, py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);
  m.def("argmin", [](const PyTensor& x, py::handle dim, bool keepdim) {
    return wrap(arg_reduce(ReduceOp::ArgMin, x.t, dim.is_none() ? 0 : dim.cast<int64_t>(), dim.is_none(), keepdim));
  }, py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);

  // ---- linear algebra ----
  m.def("matmul", [](const PyTensor& a, const PyTensor& b) { return wrap(matmul(a.t, b.t)); });
  m.def("linear", [](const PyTensor& x, const PyTensor& w, py::handle b, bool relu) {
    if (b.is_none()) return wrap(linear(x.t, w.t, nullptr, relu));
    return wrap(linear(x.t, w.t, &as_tensor(b, "linear", "bias"), relu));
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("relu") = false);
  m.def("addmm", [](const PyTensor& c, const PyTensor& a, const PyTensor& b, double beta, double alpha) {
    return wrap(addmm(c.t, a.t, b.t, beta, alpha));
  });

  // ---- random ----
  py::class_<Generator>(m, "_Generator")
      .def(py::init<>())
      .def("manual_seed", [](Generator& g, uint64_t s) { g.manual_seed(s); })
      .def_property("seed", [](Generator& g) { return g.seed; }, [](Generator& g, uint64_t s) { g.seed = s; })
      .def_property("offset", [](Generator& g) { return g.offset; }, [](Generator& g, uint64_t o) { g.offset = o; })
      .def("reserve", &Generator::reserve);
  m.def("default_generator", []() -> Generator& { return default_generator(); }, py::return_value_policy::reference);
  m.def("_permutation_from_uniforms", [](const PyTensor& u) { return wrap(permutation_from_uniforms(u.t)); });
  m.def("random", [](py::handle shape, py::handle dtype, py::handle device, const std::string& kind, double a,
                     double b, int64_t low, int64_t high, Generator* gen) {
    RandomArgs args;
    if (kind == "uniform") args.kind = RandomKind::Uniform;
    else if (kind == "normal") args.kind = RandomKind::Normal;
    else if (kind == "bernoulli") args.kind = RandomKind::Bernoulli;
    else if (kind == "integer") args.kind = RandomKind::Integer;
    else DLCORE_THROW(ValueError, "random: unknown kind ", kind);
    args.a = a;
    args.b = b;
    args.low = low;
    args.high = high;
    DType dt = to_dtype(dtype, kind.c_str());
    if (args.kind == RandomKind::Integer)
      DLCORE_CHECK(high > low, ValueError, "randint: expected low < high, got low=", low, ", high=", high);
    else
      DLCORE_CHECK(is_floating(dt), TypeError, kind, ": expected a floating-point dtype, got ", dtype_name(dt));
    return wrap(random_tensor(to_intlist(shape, kind.c_str(), "size"), dt, to_device(device, kind.c_str()), args, gen));
  }, py::arg("shape"), py::arg("dtype"), py::arg("device"), py::arg("kind"), py::arg("a") = 0.0, py::arg("b") = 1.0,
     py::arg("low") = 0, py::arg("high") = 1, py::arg("generator") = nullptr);

  // ---- creation ----
  m.def("arange", [](double start, double end, double step, py::handle dtype, py::handle device) {
    DLCORE_CHECK(step != 0, ValueError, "arange: step must be nonzero");
    DLCORE_CHECK(std::isfinite(start) && std::isfinite(end), ValueError, "arange: start and end must be finite");
    DLCORE_CHECK((end - start) / step >= 0 || start == end, ValueError, "arange: upper bound and larger bound "
                 "inconsistent with step sign (start=", start, ", end=", end, ", step=", step, ")");
    double n_d = std::ceil((end - start) / step);
    DLCORE_CHECK(n_d < 9.2e18, ValueError, "arange: too many elements");
    int64_t n = std::max<int64_t>(0, (int64_t)n_d);
    DType dt = to_dtype(dtype, "arange");
    Tensor t = Tensor::empty(IntList{n}, DType::Float64, Device());
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = start + (double)i * step;
    return wrap(t.to(dt).to(to_device(device, "arange")));
  });
  m.def("arange_int", [](int64_t start, int64_t end, int64_t step, py::handle dtype, py::handle device) {
    DLCORE_CHECK(step != 0, ValueError, "arange: step must be nonzero");
    DLCORE_CHECK((step > 0 && end >= start) || (step < 0 && end <= start) || start == end, ValueError,
                 "arange: upper bound and larger bound inconsistent with step sign (start=", start, ", end=", end,
                 ", step=", step, ")");
    int64_t n = step > 0 ? (end - start + step - 1) / step : (start - end - step - 1) / (-step);
    n = std::max<int64_t>(n, 0);
    Tensor t = Tensor::empty(IntList{n}, DType::Int64, Device());
    int64_t* p = t.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = start + i * step;
    return wrap(t.to(to_dtype(dtype, "arange")).to(to_device(device, "arange")));
  });
  m.def("linspace", [](double start, double end, int64_t steps, py::handle dtype, py::handle device) {
    DLCORE_CHECK(steps >= 0, ValueError, "linspace: number of steps must be non-negative, got ", steps);
    Tensor t = Tensor::empty(IntList{steps}, DType::Float64, Device());
    double* p = t.data<double>();
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
    // symmetric evaluation like torch: the first half from start, the second from end
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i) p[i] = i < half ? start + step * (double)i : end - step * (double)(steps - 1 - i);
    if (steps == 1) p[0] = start;  // (torch: one step is start, not end)
    return wrap(t.to(to_dtype(dtype, "linspace")).to(to_device(device, "linspace")));
  });
  m.def("eye", [](int64_t n, int64_t mcols, py::handle dtype, py::handle device) {
    DLCORE_CHECK(n >= 0 && mcols >= 0, ValueError, "eye: n and m must be non-negative, got ", n, " and ", mcols);
    const DType dt = to_dtype(dtype, "eye");
    const Device dev = to_device(device, "eye");
    Tensor t = Tensor::zeros(IntList{n, mcols}, dt, Device());  // in its dtype (was float64, then cast: 4x slower)
    if (std::min(n, mcols) > 0) t.as_strided(IntList{std::min(n, mcols)}, IntList{mcols + 1}, 0).fill(1.0);
    return wrap(dev.type == DeviceType::CPU ? t : t.to(dev));
  });

  // ---- runtime services ----
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads);
  m.def("_get_cpu_isa", []() { return std::string(isa_name(cpu_isa())); });
  m.def("_set_cpu_isa", [](const std::string& s) { set_cpu_isa(parse_isa(s)); });
  m.def("_cpu_isa_supported", []() { return std::string(isa_name(cpu_isa_supported())); });
  m.def("_cpu_features", []() {
    const CpuFeatures& f = cpu_features();
    py::dict d;
    d["vendor"] = f.vendor;
    d["brand"] = f.brand;
    d["avx2"] = f.avx2;
    d["fma"] = f.fma;
    d["f16c"] = f.f16c;
    d["avx512f"] = f.avx512f;
    d["avx512bw"] = f.avx512bw;
    d["avx512dq"] = f.avx512dq;
    d["avx512vl"] = f.avx512vl;
    d["avx512bf16"] = f.avx512bf16;
    d["os_avx"] = f.os_avx;
    d["os_avx512"] = f.os_avx512;
    d["l1d"] = f.l1d;
    d["l2"] = f.l2;
    d["l1d_ways"] = f.l1d_ways;
    d["family"] = f.family;
    d["fma512_full"] = f.fma512_full;
    return d;
  });
  m.def("_cpu_memory_stats", []() {
    CpuMemoryStats s = cpu_memory_stats();
    py::dict d;
    d["allocated"] = s.allocated;
    d["peak_allocated"] = s.peak_allocated;
    d["cached"] = s.cached;
    return d;
  });
  m.def("_empty_cpu_cache", &empty_cpu_cache);
  m.def("_kernels", []() {
    py::list l;
    for (const auto& r : kernel_records()) l.append(py::make_tuple(r.op, device_type_name(r.device), r.impl));
    return l;
  });
  py::dict build;  // (the values: dlcore_build_info.h, generated by CMakeLists.txt)
#ifdef DLCORE_VERSION
  build["version"] = DLCORE_VERSION;
#endif
#ifdef DLCORE_GIT_REV
  build["git_revision"] = DLCORE_GIT_REV;
#endif
  build["compiler"] = DLCORE_COMPILER;
  build["build_type"] = DLCORE_BUILD_TYPE;
#ifdef DLCORE_WITH_CUDA
  build["cuda_built"] = true;
#else
  build["cuda_built"] = false;
#endif
#ifdef DLCORE_CUDA_EMULATED
  build["cuda_emulated"] = true;
#else
  build["cuda_emulated"] = false;
#endif
#ifdef DLCORE_CUDA_ARCHS_STR
  build["cuda_archs"] = DLCORE_CUDA_ARCHS_STR;
#else
  build["cuda_archs"] = "";
#endif
  m.attr("_build_info") = build;
}

BindingRegistrar reg("1ops", &bind_ops);

}  // namespace

}  // namespace dlcore
