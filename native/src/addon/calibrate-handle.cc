// calibrate(model, chunks: Int32Array[], options: { kind, nSink?, chunkSize? })
// → { kind, chunks, samples: number[] (query rows per layer), queryMean?, queryCov? (Float32Array,
//     [L,H,d] / [L,H,d,d]), qFilters? ([L,Hk,d]), headScores? ([L,Hk]) }
// Runs each chunk of calibration tokens as its own prefill through the engine's forward with a capture
// press (press/calibration.h) and returns the statistics `presskv calibrate` writes as an artefact.
// Synchronous: it serves a CLI tool, nothing else waits on the JS thread meanwhile.
#include <napi.h>

#include <string>
#include <vector>

#include "addon/js-options.h"
#include "addon/model-handle.h"
#include "addon/registry.h"
#include "core/errors.h"
#include "kv/kv-cache.h"
#include "model/forward.h"
#include "model/weights.h"
#include "press/calibration.h"
#include "press/forward-hook.h"
#include "press/pipeline.h"

namespace presskv::addon {

namespace {

Napi::Float32Array to_float32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

press::CalibrationKind read_kind(Napi::Env env, Napi::Object options) {
  Napi::Value v = options.Get("kind");
  const std::string kind = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (kind == "expected-attention-stats") return press::CalibrationKind::ExpectedAttentionStats;
  if (kind == "qfilter") return press::CalibrationKind::QFilter;
  if (kind == "duo-attention") return press::CalibrationKind::DuoAttention;
  throw_invalid(env, "calibrate: options.kind must be 'expected-attention-stats', 'qfilter' or 'duo-attention'");
}

Napi::Value calibrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsArray() || !info[2].IsObject())
    throw_invalid(env, "calibrate(model, chunks: Int32Array[], { kind, nSink?, chunkSize? })");
  ModelHandle* handle = ModelHandle::from(info[0]);
  Napi::Array chunk_values = info[1].As<Napi::Array>();
  Napi::Object options = info[2].As<Napi::Object>();
  const press::CalibrationKind kind = read_kind(env, options);
  const int32_t n_sink = read_int(env, options, "nSink", 4, 0, 1 << 20);
  EvalOptions eval;
  eval.logits = LogitsMode::None;
  eval.chunk_size = read_int(env, options, "chunkSize", eval.chunk_size, 1, 1 << 20);
  std::vector<std::vector<int32_t>> chunks;
  for (uint32_t i = 0; i < chunk_values.Length(); ++i) {
    chunks.push_back(read_token_ids(env, chunk_values.Get(i), "calibrate: chunks[i]"));
    if (chunks.back().empty()) throw_invalid(env, "calibrate: chunk " + std::to_string(i) + " is empty");
  }
  if (chunks.empty()) throw_invalid(env, "calibrate: no calibration tokens");
  try {
    std::shared_ptr<Model> model = handle->model();
    const ModelConfig& mc = model->config();
    const LoadedModel& lm = loaded(*model);
    ThreadPool& pool = *handle->thread_pool();
    press::CalibrationStats stats(mc, kind, n_sink);
    auto forward = Forward::create(model, pool);
    KvCacheOptions kv;
    kv.dtype = DType::F32;  // the statistics should not carry f16 rounding of the cache into later layers
    std::vector<float> logits;
    for (const std::vector<int32_t>& chunk : chunks) {
      press::PressPipeline pipeline(press::make_calibration_capture(stats), mc);
      auto cache = KvCache::create(mc, KvPool::create(0), kv);
      press::ForwardPressHook hook(pipeline, lm, pool, true, (int32_t)chunk.size());
      EvalOptions run = eval;
      run.press_hook = &hook;
      forward->eval(*cache, chunk.data(), (int32_t)chunk.size(), run, logits);
      if (hook.layers_seen() == 0)
        throw EngineError(ErrorCode::Internal, "calibrate: the forward pass did not call the press hook");
      stats.end_chunk();
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("kind", options.Get("kind"));
    out.Set("chunks", Napi::Number::New(env, stats.chunks()));
    Napi::Array samples = Napi::Array::New(env, mc.n_layers);
    for (int32_t l = 0; l < mc.n_layers; ++l) samples.Set(l, Napi::Number::New(env, (double)stats.samples(l)));
    out.Set("samples", samples);
    switch (kind) {
      case press::CalibrationKind::ExpectedAttentionStats:
        out.Set("queryMean", to_float32(env, stats.query_mean()));
        out.Set("queryCov", to_float32(env, stats.query_cov()));
        break;
      case press::CalibrationKind::QFilter:
        out.Set("qFilters", to_float32(env, stats.q_filters()));
        break;
      case press::CalibrationKind::DuoAttention:
        out.Set("headScores", to_float32(env, stats.head_scores()));
        break;
    }
    return out;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
}

}  // namespace

void register_calibrate(Napi::Env env, Napi::Object exports) {
  exports.Set("calibrate", Napi::Function::New(env, calibrate, "calibrate"));
}

}  // namespace presskv::addon
