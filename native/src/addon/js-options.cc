#include "addon/js-options.h"

#include <cmath>
#include <limits>

#include "addon/js-reply.h"
#include "core/errors.h"

namespace presskv::addon {

void throw_invalid(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", Napi::String::New(env, "ERR_INVALID_ARGUMENT"));
  throw error;
}

void throw_as_js(Napi::Env env, std::exception_ptr error) { throw to_js_error(env, error); }

bool has_field(Napi::Object object, const char* name) {
  return object.Has(name) && !object.Get(name).IsUndefined() && !object.Get(name).IsNull();
}

double read_number(Napi::Env env, Napi::Object object, const char* name, double fallback) {
  if (!has_field(object, name)) return fallback;
  Napi::Value v = object.Get(name);
  if (!v.IsNumber()) throw_invalid(env, std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int32_t read_int(Napi::Env env, Napi::Object object, const char* name, int32_t fallback, int32_t min, int32_t max) {
  const double v = read_number(env, object, name, fallback);
  if (!std::isfinite(v) || std::floor(v) != v || v < min || v > max)
    throw_invalid(env, std::string(name) + " must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got " + std::to_string(v));
  return int32_t(v);
}

SamplingParams read_sampling(Napi::Env env, Napi::Value value) {
  SamplingParams p;
  if (value.IsUndefined() || value.IsNull()) return p;
  if (!value.IsObject()) throw_invalid(env, "sampling must be an object");
  Napi::Object o = value.As<Napi::Object>();
  p.temperature = float(read_number(env, o, "temperature", p.temperature));
  const double top_k = read_number(env, o, "topK", p.top_k);
  if (!std::isfinite(top_k) || std::floor(top_k) != top_k || top_k < 0)
    throw_invalid(env, "topK must be an integer >= 0 (0 = off), got " + std::to_string(top_k));
  p.top_k = top_k > double(std::numeric_limits<int32_t>::max()) ? std::numeric_limits<int32_t>::max() : int32_t(top_k);
  p.top_p = float(read_number(env, o, "topP", p.top_p));
  p.min_p = float(read_number(env, o, "minP", p.min_p));
  p.repetition_penalty = float(read_number(env, o, "repetitionPenalty", p.repetition_penalty));
  p.presence_penalty = float(read_number(env, o, "presencePenalty", p.presence_penalty));
  p.frequency_penalty = float(read_number(env, o, "frequencyPenalty", p.frequency_penalty));
  p.penalty_last_n = read_int(env, o, "penaltyLastN", p.penalty_last_n, -1, std::numeric_limits<int32_t>::max());
  if (has_field(o, "seed")) {
    const double seed = read_number(env, o, "seed", 0);
    if (!std::isfinite(seed) || std::floor(seed) != seed || std::fabs(seed) > 9007199254740991.0)
      throw_invalid(env, "seed must be a safe integer, got " + std::to_string(seed));
    p.has_seed = true;
    p.seed = uint64_t(int64_t(seed));
  }
  try {
    validate_sampling(p);
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
  return p;
}

std::vector<int32_t> read_token_ids(Napi::Env env, Napi::Value value, const char* what) {
  std::vector<int32_t> ids;
  if (value.IsTypedArray()) {
    auto typed = value.As<Napi::TypedArray>();
    if (typed.TypedArrayType() != napi_int32_array) throw_invalid(env, std::string(what) + " must be an Int32Array");
    auto array = value.As<Napi::Int32Array>();
    ids.assign(array.Data(), array.Data() + array.ElementLength());
    return ids;
  }
  if (!value.IsArray()) throw_invalid(env, std::string(what) + " must be an Int32Array or an array of token ids");
  auto array = value.As<Napi::Array>();
  ids.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > std::numeric_limits<int32_t>::max())
      throw_invalid(env, std::string(what) + "[" + std::to_string(i) + "] is not a token id");
    ids.push_back(int32_t(d));
  }
  return ids;
}

std::vector<std::string> read_byte_strings(Napi::Env env, Napi::Value value, const char* what) {
  std::vector<std::string> out;
  if (value.IsUndefined() || value.IsNull()) return out;
  if (!value.IsArray()) throw_invalid(env, std::string(what) + " must be an array of Uint8Array");
  auto array = value.As<Napi::Array>();
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_invalid(env, std::string(what) + "[" + std::to_string(i) + "] must be a Uint8Array");
    auto bytes = v.As<Napi::Uint8Array>();
    out.emplace_back(reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength());
  }
  return out;
}

}  // namespace presskv::addon
