// Devices: "cpu" and "cuda[:N]". The CUDA device type always exists; whether it has storage and kernels depends
// on the build (real CUDA, the SIMT emulator, or none).
#pragma once
#include <cstdint>
#include <string>

#include "core/errors.h"

namespace dlcore {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // always 0 for cpu

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(t == DeviceType::CPU ? 0 : i) {}
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index); }

  // Parses "cpu", "cuda", "cuda:1". Raises ValueError naming the string otherwise.
  static Device parse(const std::string& s);
};

inline const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "cpu" : "cuda"; }

}  // namespace dlcore
