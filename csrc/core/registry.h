// The kernel registry: one table per op, keyed by device type. Dispatch is on the tensors' device, never on a
// global mode. A missing kernel raises NotImplementedError naming the op, the device and why.
//
//   // family header:   inline Op<void(const Tensor& out, const Tensor& in)> relu_op{"relu"};
//   // family_cpu.cpp:  static KernelRegistrar reg(relu_op, DeviceType::CPU, &relu_cpu, "cpu");
//   // caller:          relu_op.get(x.device().type)(out, x);
//
// Op has a constexpr constructor, so every Op object is constant-initialised and registrars in other translation
// units may fill it during static initialisation in any order.
#pragma once
#include <string>
#include <vector>

#include "core/common.h"
#include "core/device.h"
#include "core/errors.h"

namespace dlcore {

[[noreturn]] void throw_missing_kernel(const char* op, DeviceType dev);

template <class Fn>
class Op {
 public:
  constexpr explicit Op(const char* name) : name_(name) {}
  Fn* get(DeviceType dev) const {
    Fn* f = table_[(int)dev];
    if (DLCORE_UNLIKELY(!f)) throw_missing_kernel(name_, dev);
    return f;
  }
  bool has(DeviceType dev) const { return table_[(int)dev] != nullptr; }
  void set(DeviceType dev, Fn* fn) { table_[(int)dev] = fn; }
  const char* name() const { return name_; }

 private:
  const char* name_;
  Fn* table_[kNumDeviceTypes] = {};
};

struct KernelRecord {
  std::string op;
  DeviceType device;
  std::string impl;
};
// Every registration, for dlcore.info() and tests.
std::vector<KernelRecord>& kernel_records();

struct KernelRegistrar {
  template <class Fn>
  KernelRegistrar(Op<Fn>& op, DeviceType dev, Fn* fn, const char* impl = "") {
    op.set(dev, fn);
    kernel_records().push_back({op.name(), dev, impl});
  }
};

}  // namespace dlcore
