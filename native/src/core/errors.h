#pragma once
// Every failure a caller can cause is an EngineError with a stable code; the addon turns it into a JS
// error whose `code` the TypeScript side maps to a typed error class.
#include <stdexcept>
#include <string>

namespace presskv {

enum class ErrorCode {
  InvalidArgument,          // ERR_INVALID_ARGUMENT
  NotFound,                 // ERR_NOT_FOUND
  CorruptFile,              // ERR_CORRUPT_FILE
  UnsupportedDtype,         // ERR_UNSUPPORTED_DTYPE
  UnsupportedArchitecture,  // ERR_UNSUPPORTED_ARCHITECTURE
  ContextOverflow,          // ERR_CONTEXT_OVERFLOW
  OutOfMemory,              // ERR_OUT_OF_MEMORY (KV pool budget exhausted)
  Aborted,                  // ERR_ABORTED
  DeviceUnavailable,        // ERR_DEVICE_UNAVAILABLE (no GPU, no driver, build without CUDA)
  Internal,                 // ERR_INTERNAL
};

inline const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "ERR_INVALID_ARGUMENT";
    case ErrorCode::NotFound: return "ERR_NOT_FOUND";
    case ErrorCode::CorruptFile: return "ERR_CORRUPT_FILE";
    case ErrorCode::UnsupportedDtype: return "ERR_UNSUPPORTED_DTYPE";
    case ErrorCode::UnsupportedArchitecture: return "ERR_UNSUPPORTED_ARCHITECTURE";
    case ErrorCode::ContextOverflow: return "ERR_CONTEXT_OVERFLOW";
    case ErrorCode::OutOfMemory: return "ERR_OUT_OF_MEMORY";
    case ErrorCode::Aborted: return "ERR_ABORTED";
    case ErrorCode::DeviceUnavailable: return "ERR_DEVICE_UNAVAILABLE";
    case ErrorCode::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace presskv
