// JS surface of the native presses (the test-only entries on plain arrays live in native/test/):
//   pressEvalContext(model, contextTokens, pressConfig, options?) → compression stats (+ continuation logits)
//   pressNames() → string[]
// pressConfig = { name, options?: { camelCase: number | boolean | string | number[] }, press?, presses? }
// (option 'path' / 'statsPath' / 'artefactPath' = the artefact file).
#include <napi.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <functional>
#include <map>

#include "addon/js-options.h"
#include "addon/prefill-stats.h"
#include "addon/registry.h"
#include "core/errors.h"
#include "addon/model-handle.h"
#include "addon/press-config-js.h"
#include "kv/paged-kv-cache.h"
#include "model/forward.h"
#include "model/weights.h"
#include "press/context-prefill.h"
#include "press/forward-hook.h"
#include "press/paged-cache-access.h"
#include "press/pipeline.h"
#include "press/press.h"
#include "press/rope.h"

namespace presskv::addon {
namespace {

using press::LayerDecision;
using press::LayerView;
using press::PressConfig;

[[noreturn]] void bad(const std::string& message) { throw EngineError(ErrorCode::InvalidArgument, message); }

// An entry point whose C++ errors reach JS as Errors carrying the engine's stable code (engine/errors.ts
// maps it to a typed error).
template <Napi::Value (*Entry)(const Napi::CallbackInfo&)>
Napi::Value js_entry(const Napi::CallbackInfo& info) {
  try {
    return Entry(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw_as_js(info.Env(), std::current_exception());
  }
}

int32_t get_int(const Napi::Object& obj, const char* key, bool required, int32_t fallback = 0) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) bad(std::string("inputs: '") + key + "' is required");
    return fallback;
  }
  if (!v.IsNumber()) bad(std::string("inputs: '") + key + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || std::fabs(d) > 2e9) bad(std::string("inputs: '") + key + "' must be an integer");
  return (int32_t)d;
}

double get_number(const Napi::Object& obj, const char* key, double fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) bad(std::string("'") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A Float32Array of exactly `count` elements (or absent when optional).
std::vector<float> get_floats(const Napi::Object& obj, const char* key, size_t count, bool required) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) bad(std::string("inputs: '") + key + "' is required");
    return {};
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    bad(std::string("inputs: '") + key + "' must be a Float32Array");
  Napi::Float32Array arr = v.As<Napi::Float32Array>();
  if (arr.ElementLength() != count)
    bad(std::string("inputs: '") + key + "' has " + std::to_string(arr.ElementLength()) + " elements, expected " + std::to_string(count));
  return std::vector<float>(arr.Data(), arr.Data() + count);
}

ModelConfig parse_model_config(const Napi::Value& value) {
  if (!value.IsObject()) bad("inputs.config must be an object");
  Napi::Object c = value.As<Napi::Object>();
  ModelConfig m;
  m.arch = "llama";
  m.n_layers = get_int(c, "nLayers", true);
  m.hidden = get_int(c, "hidden", true);
  m.n_heads = get_int(c, "nHeads", true);
  m.n_kv_heads = get_int(c, "nKvHeads", true);
  m.head_dim = get_int(c, "headDim", true);
  m.rope_theta = (float)get_number(c, "ropeTheta", 10000.0);
  m.rms_eps = (float)get_number(c, "rmsEps", 1e-5);
  m.rope_dim = m.head_dim;
  Napi::Value style = c.Get("ropeStyle");
  if (style.IsString()) {
    const std::string s = style.As<Napi::String>().Utf8Value();
    if (s == "interleaved") m.rope_style = RopeStyle::Interleaved;
    else if (s == "half-split" || s == "halfSplit" || s == "neox") m.rope_style = RopeStyle::HalfSplit;
    else bad("inputs.config.ropeStyle must be 'half-split' or 'interleaved'");
  } else if (style.IsNumber()) {
    m.rope_style = style.As<Napi::Number>().Int32Value() == 0 ? RopeStyle::Interleaved : RopeStyle::HalfSplit;
  }
  Napi::Value qk = c.Get("qkNorm");
  m.qk_norm = qk.IsBoolean() && qk.As<Napi::Boolean>().Value();
  Napi::Value scaling = c.Get("ropeScaling");
  if (scaling.IsObject()) {
    Napi::Object s = scaling.As<Napi::Object>();
    Napi::Value type = s.Get("type");
    if (type.IsString()) m.rope_scaling.type = type.As<Napi::String>().Utf8Value();
    m.rope_scaling.factor = (float)get_number(s, "factor", 1.0);
    m.rope_scaling.low_freq_factor = (float)get_number(s, "lowFreqFactor", 1.0);
    m.rope_scaling.high_freq_factor = (float)get_number(s, "highFreqFactor", 4.0);
    m.rope_scaling.original_max_position = (int32_t)get_number(s, "originalMaxPosition", 8192);
  }
  if (m.n_layers <= 0 || m.hidden <= 0 || m.n_heads <= 0 || m.n_kv_heads <= 0 || m.head_dim <= 0 || m.head_dim % 2 ||
      m.n_heads % m.n_kv_heads)
    bad("inputs.config: layer/head sizes must be positive, headDim even and nHeads a multiple of nKvHeads");
  return m;
}

Napi::Float32Array float_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

Napi::Value press_eval_context(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) bad("pressEvalContext(model, contextTokens, pressConfig, options?)");
  ModelHandle* handle = ModelHandle::from(info[0]);
  std::shared_ptr<Model> model = handle->model();
  const ModelConfig& mc = model->config();
  auto int32_arg = [&](const Napi::Value& v, const char* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      bad(std::string("pressEvalContext: ") + what + " must be an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  };
  const std::vector<int32_t> context = int32_arg(info[1], "contextTokens");
  if (context.empty()) bad("pressEvalContext: the context is empty");
  std::unique_ptr<press::PressPipeline> pipeline;
  if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined())
    pipeline = std::make_unique<press::PressPipeline>(parse_press_config(info[2]), mc);
  KvCacheOptions kv;
  EvalOptions eval;
  std::vector<int32_t> continuation;
  bool record_scores = false;  // perLayer[l].scores: each layer's decision scores [Hk·n] (tie-count tests)
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    Napi::Value dt = o.Get("kvDtype");
    if (dt.IsString()) {
      const std::string d = dt.As<Napi::String>().Utf8Value();
      if (d != "f16" && d != "f32") bad("pressEvalContext: kvDtype must be 'f16' or 'f32'");
      kv.dtype = d == "f32" ? DType::F32 : DType::F16;
    }
    kv.page_tokens = get_int(o, "pageTokens", false, kv.page_tokens);
    eval.chunk_size = get_int(o, "chunkSize", false, eval.chunk_size);
    if (kv.page_tokens <= 0 || eval.chunk_size <= 0) bad("pressEvalContext: pageTokens and chunkSize must be positive");
    Napi::Value cont = o.Get("continuation");
    if (!cont.IsUndefined() && !cont.IsNull()) continuation = int32_arg(cont, "options.continuation");
    record_scores = o.Get("recordScores").ToBoolean().Value();
  }
  if (pipeline) pipeline->validate((int32_t)context.size());  // bad configs fail before any work

  const LoadedModel& lm = loaded(*model);
  ThreadPool& pool = *handle->thread_pool();
  // A private cache: its window also fits the reconstruction passes of KVzip / KVCompose (at most the
  // context again plus short instruction prompts), which a session's window may not.
  kv.max_tokens = std::max<int64_t>(mc.context_length, 2 * ((int64_t)context.size() + (int64_t)continuation.size()) + 1024);
  auto cache = KvCache::create(mc, KvPool::create(0), kv);
  auto forward = Forward::create(model, pool);
  std::vector<float> logits;
  eval.logits = LogitsMode::None;
  if (pipeline) pipeline->record_scores(record_scores);
  press::prefill_context(*forward, *cache, context, eval, pipeline.get(), lm, pool, logits);
  Napi::Object out = prefill_stats(*cache, (int32_t)context.size(), pipeline.get()).to_js(env);
  if (pipeline && record_scores) {
    Napi::Array layers = out.Get("perLayer").As<Napi::Array>();
    for (const press::LayerStats& s : pipeline->stats())
      if (s.layer < (int32_t)layers.Length()) layers.Get(uint32_t(s.layer)).As<Napi::Object>().Set("scores", float_array(env, s.scores));
  }
  out.Set("ratio", Napi::Number::New(env, pipeline ? pipeline->achieved_ratio() : 0.0));
  if (!continuation.empty()) {
    EvalOptions next = eval;
    next.logits = LogitsMode::All;
    next.press_hook = nullptr;
    if (pipeline && pipeline->acts_during_decoding()) {
      // A decoding press acts between generated tokens, so the continuation is fed one token at a time,
      // as generation would: each token's logits see the cache as compressed so far.
      std::vector<float> all, row;
      for (const int32_t token : continuation) {
        press::ForwardPressHook decode_hook(*pipeline, lm, pool, false, 1);
        next.press_hook = &decode_hook;
        forward->eval(*cache, &token, 1, next, row);
        all.insert(all.end(), row.begin(), row.end());
      }
      logits.swap(all);
    } else {
      forward->eval(*cache, continuation.data(), (int32_t)continuation.size(), next, logits);
    }
    out.Set("logits", float_array(env, logits));
  }
  return out;
}

Napi::Value press_names(const Napi::CallbackInfo& info) {
  const auto& names = press::press_names();
  Napi::Array arr = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) arr.Set((uint32_t)i, Napi::String::New(info.Env(), names[i]));
  return arr;
}

}  // namespace

void register_press(Napi::Env env, Napi::Object exports) {
  exports.Set("pressEvalContext", Napi::Function::New(env, js_entry<press_eval_context>, "pressEvalContext"));
  exports.Set("pressNames", Napi::Function::New(env, press_names, "pressNames"));
}

}  // namespace presskv::addon
