#include "core/json.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"

namespace presskv {

const JsonValue* JsonValue::find(const std::string& key) const {
  if (type != Type::Object) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

namespace {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  Parser(const char* text, size_t length, const std::string& what) : p_(text), begin_(text), end_(text + length), what_(what) {}

  JsonValue parse_document() {
    JsonValue v = value(0);
    skip_space();
    if (p_ != end_) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw EngineError(ErrorCode::CorruptFile,
                      what_ + ": malformed JSON at byte " + std::to_string(p_ - begin_) + " (" + why + ")");
  }
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool literal(const char* word) {
    const size_t len = std::strlen(word);
    if ((size_t)(end_ - p_) >= len && std::memcmp(p_, word, len) == 0) {
      p_ += len;
      return true;
    }
    return false;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) fail("nested too deeply");
    skip_space();
    if (p_ >= end_) fail("unexpected end");
    JsonValue v;
    const char c = *p_;
    if (c == '{') {
      v.type = JsonValue::Type::Object;
      ++p_;
      skip_space();
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return v;
      }
      for (;;) {
        skip_space();
        if (p_ >= end_ || *p_ != '"') fail("expected a member name");
        std::string key = string_literal();
        skip_space();
        if (p_ >= end_ || *p_ != ':') fail("expected ':'");
        ++p_;
        v.object[key] = value(depth + 1);
        skip_space();
        if (p_ < end_ && *p_ == ',') {
          ++p_;
          continue;
        }
        if (p_ < end_ && *p_ == '}') {
          ++p_;
          return v;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type = JsonValue::Type::Array;
      ++p_;
      skip_space();
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return v;
      }
      for (;;) {
        v.array.push_back(value(depth + 1));
        skip_space();
        if (p_ < end_ && *p_ == ',') {
          ++p_;
          continue;
        }
        if (p_ < end_ && *p_ == ']') {
          ++p_;
          return v;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.type = JsonValue::Type::String;
      v.string = string_literal();
      return v;
    }
    if (literal("true")) {
      v.type = JsonValue::Type::Bool;
      v.boolean = true;
      return v;
    }
    if (literal("false")) {
      v.type = JsonValue::Type::Bool;
      return v;
    }
    if (literal("null")) return v;
    return number();
  }

  JsonValue number() {
    const char* start = p_;
    if (p_ < end_ && (*p_ == '-' || *p_ == '+')) ++p_;
    while (p_ < end_ && (std::isdigit((unsigned char)*p_) || *p_ == '.' || *p_ == 'e' || *p_ == 'E' || *p_ == '-' || *p_ == '+')) ++p_;
    if (p_ == start) fail("unexpected character");
    std::string digits(start, p_);
    char* stop = nullptr;
    const double x = std::strtod(digits.c_str(), &stop);
    if (stop != digits.c_str() + digits.size() || !std::isfinite(x)) fail("bad number '" + digits + "'");
    JsonValue v;
    v.type = JsonValue::Type::Number;
    v.number = x;
    return v;
  }

  std::string string_literal() {
    ++p_;  // opening quote
    std::string out;
    while (p_ < end_ && *p_ != '"') {
      char c = *p_++;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (p_ >= end_) fail("unterminated escape");
      const char e = *p_++;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (end_ - p_ < 4) fail("short \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = *p_++;
            code <<= 4;
            if (h >= '0' && h <= '9') code |= h - '0';
            else if (h >= 'a' && h <= 'f') code |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F') code |= h - 'A' + 10;
            else fail("bad \\u escape");
          }
          // Names in headers are ASCII in practice; encode the BMP code point as UTF-8.
          if (code < 0x80) out.push_back((char)code);
          else if (code < 0x800) {
            out.push_back((char)(0xC0 | (code >> 6)));
            out.push_back((char)(0x80 | (code & 0x3F)));
          } else {
            out.push_back((char)(0xE0 | (code >> 12)));
            out.push_back((char)(0x80 | ((code >> 6) & 0x3F)));
            out.push_back((char)(0x80 | (code & 0x3F)));
          }
          break;
        }
        default: fail("bad escape");
      }
    }
    if (p_ >= end_) fail("unterminated string");
    ++p_;
    return out;
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  std::string what_;
};

}  // namespace

JsonValue parse_json(const char* text, size_t length, const std::string& what) {
  return Parser(text, length, what).parse_document();
}

}  // namespace presskv
