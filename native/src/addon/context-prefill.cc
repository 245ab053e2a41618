#include "addon/context-prefill.h"

#include <algorithm>
#include <memory>

#include "core/errors.h"
#include "kv/paged-kv-cache.h"
#include "press/forward-hook.h"

namespace presskv::addon {
namespace {

// Re-rotated keys sit at positions 0..kept−1 of their head: the next token follows the longest head.
void continue_after_rerotated_keys(KvCache& cache) {
  const PagedKvCache& heads = paged(cache);
  int32_t longest = 0;
  for (int32_t l = 0; l < heads.n_layers(); ++l)
    for (int32_t h = 0; h < heads.n_kv_heads(); ++h) longest = std::max(longest, heads.length(l, h));
  cache.truncate(longest);
}

}  // namespace

ContextPrefillStats prefill_context(Forward& forward, KvCache& cache, const std::vector<int32_t>& tokens,
                                    EvalOptions options, press::PressPipeline* pipeline, const LoadedModel& model,
                                    ThreadPool& pool, std::vector<float>& logits) {
  const int32_t n = int32_t(tokens.size());
  std::unique_ptr<press::ForwardPressHook> hook;
  options.press_hook = nullptr;
  if (pipeline) {
    hook = std::make_unique<press::ForwardPressHook>(*pipeline, model, pool, true, n);
    options.press_hook = hook.get();
  }
  forward.eval(cache, tokens.data(), n, options, logits);
  if (hook && hook->layers_seen() == 0)
    throw EngineError(ErrorCode::Internal,
                      "the forward pass does not run presses yet: model/forward.cc must call EvalOptions.press_hook");
  if (pipeline && pipeline->rerotates_keys()) continue_after_rerotated_keys(cache);

  const PagedKvCache& pc = paged(cache);
  ContextPrefillStats stats;
  const int64_t pages_per_head = (int64_t(n) + pc.page_tokens() - 1) / pc.page_tokens();
  stats.tokens_before = double(n) * pc.n_layers() * pc.n_kv_heads();
  stats.bytes_before = double(pc.n_layers()) * pc.n_kv_heads() * pages_per_head * pc.page_bytes();
  stats.bytes_after = double(cache.bytes());
  stats.per_layer.assign(pc.n_layers(), std::vector<int32_t>(pc.n_kv_heads()));
  for (int32_t l = 0; l < pc.n_layers(); ++l)
    for (int32_t h = 0; h < pc.n_kv_heads(); ++h) stats.tokens_after += stats.per_layer[l][h] = cache.length(l, h);
  return stats;
}

Napi::Object ContextPrefillStats::to_js(Napi::Env env) const {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array layers = Napi::Array::New(env, per_layer.size());
  for (size_t l = 0; l < per_layer.size(); ++l) {
    Napi::Object entry = Napi::Object::New(env);
    Napi::Array heads = Napi::Array::New(env, per_layer[l].size());
    for (size_t h = 0; h < per_layer[l].size(); ++h) heads.Set(uint32_t(h), Napi::Number::New(env, per_layer[l][h]));
    entry.Set("layer", Napi::Number::New(env, double(l)));
    entry.Set("perHead", heads);
    layers.Set(uint32_t(l), entry);
  }
  out.Set("tokensBefore", Napi::Number::New(env, tokens_before));
  out.Set("tokensAfter", Napi::Number::New(env, tokens_after));
  out.Set("bytesBefore", Napi::Number::New(env, bytes_before));
  out.Set("bytesAfter", Napi::Number::New(env, bytes_after));
  out.Set("perLayer", layers);
  return out;
}

}  // namespace presskv::addon
