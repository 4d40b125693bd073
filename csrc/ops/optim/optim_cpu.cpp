// CPU fused optimizer steps: the scalar build of the loops (reference/fallback), per-ISA dispatch, the walk over a
// group's tensors (large tensors split over the thread pool) and the registration for the cpu device.
#define DLCORE_ISA_NS scalar
#include "ops/optim/optim_loops.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dlcore {

namespace {

struct AllOptimTables {
  OptimTable isa[kNumIsas];
  AllOptimTables() {
    fill_isa_tables(isa, &scalar::fill_optim_table, &avx2::fill_optim_table, &avx512::fill_optim_table);
  }
};

const OptimTable& optim_table() {
  static const AllOptimTables t;
  return t.isa[(int)cpu_isa()];
}

constexpr int64_t kGrain = 1 << 15;  // elements per task: below this a tensor is updated by one thread

template <class T>
const OptimKernels<T>& kernels_for(const OptimTable& t);
template <>
const OptimKernels<float>& kernels_for<float>(const OptimTable& t) { return t.f32; }
template <>
const OptimKernels<double>& kernels_for<double>(const OptimTable& t) { return t.f64; }

template <class T>
T* ptr(const TensorList& l, std::size_t i, int64_t off) {
  return l.empty() || !l[i].defined() ? nullptr : l[i].data<T>() + off;
}

// Runs body(T tag, i, lo, hi) over each tensor i's element ranges.
template <class Body>
void for_each_range(const TensorList& params, const Body& body) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    int64_t n = params[i].numel();
    if (n == 0) continue;
    if (n < 2 * kGrain) {
      body(i, 0, n);
    } else {
      parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { body(i, lo, hi); });
    }
  }
}

void sgd_cpu(const TensorList& params, const TensorList& grads, const TensorList& bufs,
             const std::vector<uint8_t>& first, const SgdArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "sgd_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).sgd(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(bufs, i, lo), hi - lo,
                              !first.empty() && first[i], a);
    });
  });
}

void adam_cpu(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
              const TensorList& vmax, const std::vector<int64_t>& steps, const AdamArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "adam_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).adam(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(m, i, lo), ptr<T>(v, i, lo),
                               ptr<T>(vmax, i, lo), hi - lo, steps[i], a);
    });
  });
}

void adagrad_cpu(const TensorList& params, const TensorList& grads, const TensorList& sums,
                 const std::vector<int64_t>& steps, const AdagradArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "adagrad_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).adagrad(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(sums, i, lo), hi - lo,
                                  steps[i], a);
    });
  });
}

void rmsprop_cpu(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& ga,
                 const TensorList& bufs, const RmspropArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "rmsprop_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).rmsprop(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(sq, i, lo),
                                  ptr<T>(ga, i, lo), ptr<T>(bufs, i, lo), hi - lo, a);
    });
  });
}

void adamax_cpu(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& u,
                const std::vector<int64_t>& steps, const AdamaxArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "adamax_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).adamax(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(m, i, lo), ptr<T>(u, i, lo),
                                 hi - lo, steps[i], a);
    });
  });
}

void nadam_cpu(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
               const std::vector<int64_t>& steps, const std::vector<double>& mu_products, const NadamArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "nadam_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).nadam(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(m, i, lo), ptr<T>(v, i, lo),
                                hi - lo, steps[i], mu_products[i], a);
    });
  });
}

void radam_cpu(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
               const std::vector<int64_t>& steps, const RadamArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "radam_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).radam(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(m, i, lo), ptr<T>(v, i, lo),
                                hi - lo, steps[i], a);
    });
  });
}

void adadelta_cpu(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& acc,
                  const AdadeltaArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "adadelta_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).adadelta(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(sq, i, lo),
                                   ptr<T>(acc, i, lo), hi - lo, a);
    });
  });
}

void rprop_cpu(const TensorList& params, const TensorList& grads, const TensorList& prevs,
               const TensorList& step_sizes, const RpropArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "rprop_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).rprop(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(prevs, i, lo),
                                ptr<T>(step_sizes, i, lo), hi - lo, a);
    });
  });
}

void asgd_cpu(const TensorList& params, const TensorList& grads, const TensorList& axs,
              const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a) {
  const OptimTable& tab = optim_table();
  for_each_range(params, [&](std::size_t i, int64_t lo, int64_t hi) {
    dispatch_float(params[i].dtype(), "asgd_step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels_for<T>(tab).asgd(ptr<T>(params, i, lo), ptr<T>(grads, i, lo), ptr<T>(axs, i, lo), hi - lo, etas[i],
                               mus[i], a);
    });
  });
}

}  // namespace

static KernelRegistrar reg_sgd(sgd_step_op, DeviceType::CPU, &sgd_cpu, "cpu");
static KernelRegistrar reg_adam(adam_step_op, DeviceType::CPU, &adam_cpu, "cpu");
static KernelRegistrar reg_adagrad(adagrad_step_op, DeviceType::CPU, &adagrad_cpu, "cpu");
static KernelRegistrar reg_rmsprop(rmsprop_step_op, DeviceType::CPU, &rmsprop_cpu, "cpu");
static KernelRegistrar reg_adamax(adamax_step_op, DeviceType::CPU, &adamax_cpu, "cpu");
static KernelRegistrar reg_nadam(nadam_step_op, DeviceType::CPU, &nadam_cpu, "cpu");
static KernelRegistrar reg_radam(radam_step_op, DeviceType::CPU, &radam_cpu, "cpu");
static KernelRegistrar reg_adadelta(adadelta_step_op, DeviceType::CPU, &adadelta_cpu, "cpu");
static KernelRegistrar reg_rprop(rprop_step_op, DeviceType::CPU, &rprop_cpu, "cpu");
static KernelRegistrar reg_asgd(asgd_step_op, DeviceType::CPU, &asgd_cpu, "cpu");

}  // namespace dlcore
