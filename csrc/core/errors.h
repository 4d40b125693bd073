// Exception types that cross to Python as the matching built-in exception (see bindings/module.cpp).
// Messages name the op and the offending values: "add: shapes [2, 3] and [4] are not broadcastable".
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dlcore {

struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct NotImplementedError : std::runtime_error { using std::runtime_error::runtime_error; };
struct MemoryError : std::runtime_error { using std::runtime_error::runtime_error; };

namespace detail {
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws Exc with the streamed message when cond is false: DLCORE_CHECK(a == b, ValueError, "op: ", a, " != ", b);
#define DLCORE_CHECK(cond, Exc, ...)                                    \
  do {                                                                  \
    if (!(cond)) throw ::dlcore::Exc(::dlcore::detail::str_cat(__VA_ARGS__)); \
  } while (0)

#define DLCORE_THROW(Exc, ...) throw ::dlcore::Exc(::dlcore::detail::str_cat(__VA_ARGS__))

}  // namespace dlcore
