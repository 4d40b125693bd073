#include "core/device.h"

#include <cctype>

namespace dlcore {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return Device(DeviceType::CPU, 0);
  if (s == "cuda") return Device(DeviceType::CUDA, 0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 12) {
    bool digits = true;
    for (std::size_t i = 5; i < s.size(); ++i) digits = digits && std::isdigit((unsigned char)s[i]);
    if (digits) return Device(DeviceType::CUDA, std::stoi(s.substr(5)));
  }
  if (s.rfind("cpu:", 0) == 0 && s.size() > 4) {
    bool digits = true;
    for (std::size_t i = 4; i < s.size(); ++i) digits = digits && std::isdigit((unsigned char)s[i]);
    if (digits && std::stoi(s.substr(4)) == 0) return Device(DeviceType::CPU, 0);
  }
  DLCORE_THROW(ValueError, "device: expected 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
}

}  // namespace dlcore
