#pragma once
// A minimal, bounds-checked JSON parser for small headers and artefact files (safetensors headers,
// press artefacts). Malformed input → EngineError(CorruptFile) naming the byte offset.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace presskv {

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  bool is_object() const { return type == Type::Object; }
  bool is_array() const { return type == Type::Array; }
  bool is_number() const { return type == Type::Number; }
  bool is_string() const { return type == Type::String; }
  // Member lookup; null when absent or when this is not an object.
  const JsonValue* find(const std::string& key) const;
};

// Parses exactly one JSON value (surrounding whitespace allowed). `what` names the source in errors.
JsonValue parse_json(const char* text, size_t length, const std::string& what);

}  // namespace presskv
