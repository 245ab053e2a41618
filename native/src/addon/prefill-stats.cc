#include "addon/prefill-stats.h"

#include "kv/paged-kv-cache.h"

namespace presskv::addon {

PrefillStats prefill_stats(KvCache& cache, int32_t n_context, const press::PressPipeline* pipeline) {
  const PagedKvCache& pc = paged(cache);
  PrefillStats stats;
  const int64_t pages_per_head = (int64_t(n_context) + pc.page_tokens() - 1) / pc.page_tokens();
  stats.tokens_before = double(n_context) * pc.n_layers() * pc.n_kv_heads();
  stats.bytes_before = double(pc.n_layers()) * pc.n_kv_heads() * pages_per_head * pc.page_bytes();
  stats.bytes_after = double(cache.bytes());
  stats.per_layer.assign(pc.n_layers(), std::vector<int32_t>(pc.n_kv_heads()));
  for (int32_t l = 0; l < pc.n_layers(); ++l)
    for (int32_t h = 0; h < pc.n_kv_heads(); ++h) stats.tokens_after += stats.per_layer[l][h] = cache.length(l, h);
  if (pipeline) stats.tied_slots = double(pipeline->tied_kept());
  return stats;
}

Napi::Object PrefillStats::to_js(Napi::Env env) const {
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
  out.Set("tiedSlots", Napi::Number::New(env, tied_slots));
  out.Set("perLayer", layers);
  return out;
}

}  // namespace presskv::addon
