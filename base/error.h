#pragma once
// An expected failure: what we tried, on what, and the errno the kernel or
// libc gave (0 when the failure is not an errno, e.g. a parse error).
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace netpolicy {

struct Error {
  std::string message;  // "Failed to <do what> '<object>'"
  int error_code = 0;   // errno value, positive; 0 if none applies
  std::string object;   // the kernel object or file concerned, may be empty
  std::string rule;     // the policy rule concerned, if any (event field RULE)

  // "message: strerror" — the form every log line and event uses.
  [[nodiscard]] std::string describe() const {
    if (error_code == 0) return message;
    return message + ": " + std::strerror(error_code);
  }
  [[nodiscard]] std::string error_text() const {
    return error_code == 0 ? std::string{} : std::string{std::strerror(error_code)};
  }
};

// Result<T>: a value or an Error. g++ 12 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error errno_error(std::string message, int error_code, std::string object = {}) {
  return Error{std::move(message), error_code, std::move(object), {}};
}

}  // namespace netpolicy
