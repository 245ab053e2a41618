#pragma once
// Little-endian byte streams for the engine's binary payloads (saved KV caches). The reader checks every
// length against what is left, so a truncated or corrupt payload fails with ERR_CORRUPT_FILE instead of
// reading past its end.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/errors.h"

namespace presskv {

static_assert(sizeof(float) == 4, "payloads store IEEE-754 binary32");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "payloads are little-endian and written with memcpy: port ByteWriter/ByteReader first"
#endif

class ByteWriter {
 public:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void u32(uint32_t v) { bytes(&v, 4); }
  void i32(int32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void reserve(size_t n) { out_.reserve(n); }
  size_t size() const { return out_.size(); }
  const uint8_t* data() const { return out_.data(); }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class ByteReader {
 public:
  // what: names the payload in error messages ("KV payload").
  ByteReader(const uint8_t* data, size_t size, std::string what) : p_(data), end_(data + size), what_(std::move(what)) {}

  // Returns a pointer to the next n bytes and moves past them.
  const uint8_t* take(size_t n, const char* field) {
    if (n > size_t(end_ - p_))
      corrupt(std::string("it ends inside ") + field + " (" + std::to_string(n) + " bytes needed, " +
              std::to_string(end_ - p_) + " left)");
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  uint32_t u32(const char* field) { return load<uint32_t>(field); }
  int32_t i32(const char* field) { return load<int32_t>(field); }
  uint64_t u64(const char* field) { return load<uint64_t>(field); }
  size_t remaining() const { return size_t(end_ - p_); }

  [[noreturn]] void corrupt(const std::string& why) const {
    throw EngineError(ErrorCode::CorruptFile, what_ + " is malformed: " + why);
  }

 private:
  template <typename T>
  T load(const char* field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field), sizeof(T));
    return v;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  std::string what_;
};

}  // namespace presskv
