#include "addon/sampler-binding.h"

#include <optional>

#include "addon/js-options.h"
#include "core/sampler.h"

namespace presskv::addon {
namespace {

struct SamplerCall {
  Napi::Float32Array logits;
  SamplingParams sampling;
  std::vector<int32_t> history;
  std::optional<std::vector<int32_t>> allowed;
};

SamplerCall read_call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(env, "logits must be a Float32Array");
  SamplerCall call{info[0].As<Napi::Float32Array>(), read_sampling(env, info[1]), {}, std::nullopt};
  if (call.logits.ElementLength() == 0) throw_invalid(env, "logits must not be empty");
  if (!info[2].IsUndefined() && !info[2].IsNull()) call.history = read_token_ids(env, info[2], "history");
  if (!info[3].IsUndefined() && !info[3].IsNull()) call.allowed = read_token_ids(env, info[3], "allowed");
  return call;
}

Napi::Value distribution(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SamplerCall call = read_call(info);
  const int32_t vocab = int32_t(call.logits.ElementLength());
  auto out = Napi::Float32Array::New(env, size_t(vocab));
  std::fill(out.Data(), out.Data() + vocab, 0.0f);
  try {
    Sampler sampler(call.sampling);
    for (const auto& tp : sampler.distribution(call.logits.Data(), vocab, call.history,
                                               call.allowed ? &*call.allowed : nullptr))
      out.Data()[tp.token] = tp.probability;
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
  return out;
}

Napi::Value draw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SamplerCall call = read_call(info);
  if (!info[4].IsNumber()) throw_invalid(env, "count must be a number");
  const int64_t count = info[4].As<Napi::Number>().Int64Value();
  if (count < 0 || count > (1 << 24)) throw_invalid(env, "count must be in [0, 2^24]");
  auto out = Napi::Int32Array::New(env, size_t(count));
  try {
    Sampler sampler(call.sampling);
    for (int64_t i = 0; i < count; i++)
      out.Data()[i] = sampler.sample(call.logits.Data(), int32_t(call.logits.ElementLength()), call.history,
                                     call.allowed ? &*call.allowed : nullptr);
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
  return out;
}

}  // namespace

void register_sampler(Napi::Env env, Napi::Object exports) {
  exports.Set("samplerDistribution", Napi::Function::New(env, distribution, "samplerDistribution"));
  exports.Set("samplerDraw", Napi::Function::New(env, draw, "samplerDraw"));
}

}  // namespace presskv::addon
