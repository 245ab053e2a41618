// The press tests' native entry points, built as build/Release/presskv-testing.node (never shipped): one
// press on plain arrays, the reference implementations in test/ check them.
//   scorePressLayer(pressConfig, inputs) → { scores?, kept, keys?, values?, positions?, channelRatio, tiedSlots }
//   runPressPipeline(pressConfig, inputs) → the final per-layer cache after a layer-major prefill (+ decode steps)
//   pressNames() → the presses this addon registers: the engine's and the test-only ones of native/test/presses/
// pressConfig = { name, options?: { camelCase: number | boolean | string | number[] }, press?, presses? }
// (option 'artefactPath' = the artefact file; also accepted: 'path' / 'statsPath').
// Configs come from the TS press classes (toNativeConfig), which send every option with its default.
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

struct LayerWeights {
  std::vector<float> wq, wk, wo, bq, bk, q_norm, k_norm;
};

// ModelAccess over plain f32 weights per layer (tests, custom tools): projections, optional bias and
// qwen3-style per-head RMSNorm.
class PlainWeights : public press::ModelAccess {
 public:
  explicit PlainWeights(const ModelConfig& c) : config_(c) {}
  const ModelConfig& config() const override { return config_; }
  void prerope_queries(int32_t layer, const float* x, int32_t rows, float* out) const override {
    const LayerWeights& w = at(layer);
    project(w.wq, w.bq, w.q_norm, config_.n_heads, x, rows, out);
  }
  void prerope_keys(int32_t layer, const float* x, int32_t rows, float* out) const override {
    const LayerWeights& w = at(layer);
    project(w.wk, w.bk, w.k_norm, config_.n_kv_heads, x, rows, out);
  }
  bool has_output_projection(int32_t layer) const override { return !at(layer).wo.empty(); }
  void output_projection(int32_t layer, int32_t head, float* out) const override {
    const std::vector<float>& wo = at(layer).wo;
    if (wo.empty()) bad("this press needs weights.wo (the output projection [hidden, nHeads*headDim])");
    const int32_t d = config_.head_dim, D = config_.hidden, HD = config_.n_heads * d;
    for (int32_t c = 0; c < d; ++c)
      for (int32_t o = 0; o < D; ++o) out[(size_t)c * D + o] = wo[(size_t)o * HD + head * d + c];
  }

  std::map<int32_t, LayerWeights> layers;

 private:
  const LayerWeights& at(int32_t layer) const {
    auto it = layers.find(layer);
    if (it == layers.end()) bad("no weights for layer " + std::to_string(layer));
    return it->second;
  }
  void project(const std::vector<float>& w, const std::vector<float>& b, const std::vector<float>& norm, int32_t heads,
               const float* x, int32_t rows, float* out) const {
    const int32_t d = config_.head_dim, D = config_.hidden;
    for (int32_t r = 0; r < rows; ++r)
      for (int32_t h = 0; h < heads; ++h) {
        float* dst = out + ((size_t)h * rows + r) * d;
        for (int32_t c = 0; c < d; ++c) {
          const float* row = w.data() + (size_t)(h * d + c) * D;
          double s = b.empty() ? 0.0 : b[h * d + c];
          for (int32_t i = 0; i < D; ++i) s += (double)row[i] * x[(size_t)r * D + i];
          dst[c] = (float)s;
        }
        if (!norm.empty()) {
          double ms = 0;
          for (int32_t c = 0; c < d; ++c) ms += (double)dst[c] * dst[c];
          const double scale = 1.0 / std::sqrt(ms / d + config_.rms_eps);
          for (int32_t c = 0; c < d; ++c) dst[c] = (float)(dst[c] * scale * norm[c]);
        }
      }
  }
  ModelConfig config_;
};

LayerWeights parse_weights(const Napi::Value& wv, const ModelConfig& model) {
  if (!wv.IsObject()) bad("inputs.weights must be an object { wq, wk, wo?, bq?, bk?, qNorm?, kNorm? }");
  Napi::Object w = wv.As<Napi::Object>();
  const int32_t Hk = model.n_kv_heads, H = model.n_heads, d = model.head_dim, D = model.hidden;
  LayerWeights lw;
  lw.wq = get_floats(w, "wq", (size_t)H * d * D, true);
  lw.wk = get_floats(w, "wk", (size_t)Hk * d * D, true);
  lw.wo = get_floats(w, "wo", (size_t)D * H * d, false);
  lw.bq = get_floats(w, "bq", (size_t)H * d, false);
  lw.bk = get_floats(w, "bk", (size_t)Hk * d, false);
  lw.q_norm = get_floats(w, "qNorm", (size_t)d, false);
  lw.k_norm = get_floats(w, "kNorm", (size_t)d, false);
  return lw;
}

// Positions [Hk, n] from an Int32Array of n (broadcast) or Hk·n entries; 0..n−1 when absent.
std::vector<int32_t> parse_positions(const Napi::Value& pos, int32_t Hk, int32_t n) {
  std::vector<int32_t> positions((size_t)Hk * n);
  if (pos.IsUndefined() || pos.IsNull()) {
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t t = 0; t < n; ++t) positions[(size_t)h * n + t] = t;
    return positions;
  }
  if (!pos.IsTypedArray() || pos.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    bad("inputs.positions must be an Int32Array of n (or nKvHeads*n) positions");
  Napi::Int32Array arr = pos.As<Napi::Int32Array>();
  if (arr.ElementLength() == (size_t)n) {
    for (int32_t h = 0; h < Hk; ++h) std::memcpy(&positions[(size_t)h * n], arr.Data(), n * sizeof(int32_t));
  } else if (arr.ElementLength() == (size_t)Hk * n) {
    std::memcpy(positions.data(), arr.Data(), positions.size() * sizeof(int32_t));
  } else {
    bad("inputs.positions must have n or nKvHeads*n elements");
  }
  return positions;
}

Napi::Int32Array int_array(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array arr = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(arr.Data(), v.data(), v.size() * sizeof(int32_t));
  return arr;
}

Napi::Float32Array float_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array arr = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(arr.Data(), v.data(), v.size() * sizeof(float));
  return arr;
}

Napi::Value score_press_layer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) bad("scorePressLayer(pressConfig, inputs) needs two objects");
  const PressConfig config = parse_press_config(info[0]);
  Napi::Object in = info[1].As<Napi::Object>();
  const ModelConfig model = parse_model_config(in.Get("config"));
  std::unique_ptr<press::Press> p = press::create_press(config, &model);

  const int32_t Hk = model.n_kv_heads, H = model.n_heads, d = model.head_dim, D = model.hidden;
  const int32_t layer = get_int(in, "layer", false, 0);
  const int32_t n = get_int(in, "n", true);
  const int32_t q = get_int(in, "q", false, n);
  if (layer < 0 || layer >= model.n_layers) bad("inputs.layer is out of range");
  if (n <= 0 || q <= 0 || q > n) bad("inputs: need 0 < q <= n");
  std::vector<float> hidden = get_floats(in, "hidden", (size_t)q * D, true);
  std::vector<float> keys = get_floats(in, "keys", (size_t)Hk * n * d, true);
  std::vector<float> values = get_floats(in, "values", (size_t)Hk * n * d, true);
  std::vector<float> attentions = get_floats(in, "attentions", (size_t)H * q * n, false);
  std::vector<int32_t> positions = parse_positions(in.Get("positions"), Hk, n);
  if (!in.Get("seed").IsUndefined()) p->rng().seed((uint64_t)get_number(in, "seed", 0));

  PlainWeights weights(model);
  weights.layers[layer] = parse_weights(in.Get("weights"), model);

  LayerView view;
  view.layer = layer;
  view.n_layers = model.n_layers;
  view.n = n;
  view.q = q;
  view.n_heads = H;
  view.n_kv_heads = Hk;
  view.head_dim = d;
  view.hidden_size = D;
  view.hidden = hidden.data();
  view.keys = keys.data();
  view.values = values.data();
  view.positions = positions.data();
  view.attentions = attentions.empty() ? nullptr : attentions.data();
  view.first_position = get_int(in, "firstPosition", false, n - q);
  view.model = &weights;

  p->validate(n);
  p->begin(model.n_layers);
  LayerDecision decision;
  p->compress(view, decision);
  if (p->defers_to_finish()) {
    std::vector<LayerView> views{view};
    std::vector<LayerDecision> decisions(1);
    p->finish(views, decisions);
    std::vector<float> scores = std::move(decision.scores);
    decision = std::move(decisions[0]);
    if (decision.scores.empty()) decision.scores = std::move(scores);
  }
  if (decision.unchanged) decision.keep_all(Hk, n);

  Napi::Object out = Napi::Object::New(env);
  if (!decision.scores.empty()) out.Set("scores", float_array(env, decision.scores));
  Napi::Array kept = Napi::Array::New(env, Hk);
  for (int32_t h = 0; h < Hk; ++h) kept.Set(h, int_array(env, decision.kept[h]));
  out.Set("kept", kept);
  auto gather = [&](const std::vector<float>& src) {
    std::vector<float> g;
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t t : decision.kept[h]) g.insert(g.end(), src.begin() + ((size_t)h * n + t) * d, src.begin() + ((size_t)h * n + t + 1) * d);
    return g;
  };
  if (decision.keys_modified) out.Set("keys", float_array(env, gather(keys)));
  if (decision.values_modified) out.Set("values", float_array(env, gather(values)));
  if (decision.positions_modified) {
    Napi::Array per_head = Napi::Array::New(env, Hk);
    for (int32_t h = 0; h < Hk; ++h) {
      std::vector<int32_t> ps;
      for (int32_t t : decision.kept[h]) ps.push_back(positions[(size_t)h * n + t]);
      per_head.Set(h, int_array(env, ps));
    }
    out.Set("positions", per_head);
  }
  out.Set("channelRatio", Napi::Number::New(env, decision.channel_ratio));
  out.Set("tiedSlots", Napi::Number::New(env, double(decision.tied_kept)));
  return out;
}

// A sequence cache over plain vectors, for runPressPipeline: slots per (layer, kv-head) remember the
// index they were appended at (their "origin") so callers can see exactly what was kept.
class PlainCache : public press::LayerCacheAccess {
 public:
  struct Slot {
    int32_t origin = 0, position = 0;
    std::vector<float> key, value;
  };
  PlainCache(int32_t layers, int32_t kv_heads, int32_t d) : d_(d), slots_(layers, std::vector<std::vector<Slot>>(kv_heads)) {}

  void append(int32_t layer, const float* keys, const float* values, const int32_t* positions, int32_t count, int32_t origin) {
    auto& heads = slots_[layer];
    for (size_t h = 0; h < heads.size(); ++h)
      for (int32_t t = 0; t < count; ++t) {
        Slot s;
        s.origin = origin + t;
        s.position = positions[h * count + t];
        const size_t at = (h * count + t) * (size_t)d_;
        s.key.assign(keys + at, keys + at + d_);
        s.value.assign(values + at, values + at + d_);
        heads[h].push_back(std::move(s));
      }
  }
  int32_t length(int32_t layer, int32_t kv_head) const override { return (int32_t)slots_[layer][kv_head].size(); }
  void gather(int32_t layer, std::vector<float>& keys, std::vector<float>& values, std::vector<int32_t>& positions) const override {
    const auto& heads = slots_[layer];
    size_t n = 0;
    for (const auto& head : heads) n = std::max(n, head.size());
    keys.assign(heads.size() * n * d_, 0.0f);
    values.assign(keys.size(), 0.0f);
    positions.assign(heads.size() * n, -1);
    for (size_t h = 0; h < heads.size(); ++h) {
      const size_t padding = n - heads[h].size();
      for (size_t i = 0; i < heads[h].size(); ++i) {
        const Slot& s = heads[h][i];
        std::copy(s.key.begin(), s.key.end(), keys.begin() + (h * n + padding + i) * d_);
        std::copy(s.value.begin(), s.value.end(), values.begin() + (h * n + padding + i) * d_);
        positions[h * n + padding + i] = s.position;
      }
    }
  }
  void retain(int32_t layer, const std::vector<std::vector<int32_t>>& kept, const float* keys, const float* values,
              const int32_t* positions) override {
    auto& heads = slots_[layer];
    size_t n = 0;
    for (const auto& head : heads) n = std::max(n, head.size());
    for (size_t h = 0; h < heads.size(); ++h) {
      const size_t padding = n - heads[h].size();
      std::vector<Slot> next;
      for (int32_t t : kept[h]) {
        if ((size_t)t < padding) bad("press pipeline kept a padding slot");
        Slot s = heads[h][t - padding];
        const size_t at = (h * n + t) * (size_t)d_;
        if (keys) s.key.assign(keys + at, keys + at + d_);
        if (values) s.value.assign(values + at, values + at + d_);
        if (positions) s.position = positions[h * n + t];
        next.push_back(std::move(s));
      }
      heads[h] = std::move(next);
    }
  }
  const std::vector<std::vector<std::vector<Slot>>>& slots() const { return slots_; }
  // Drops every slot appended at origin >= n (a reconstruction pass leaving the cache).
  void truncate(int32_t n) {
    for (auto& heads : slots_)
      for (auto& head : heads)
        head.erase(std::remove_if(head.begin(), head.end(), [&](const Slot& slot) { return slot.origin >= n; }), head.end());
  }

 private:
  int32_t d_;
  std::vector<std::vector<std::vector<Slot>>> slots_;
};

// The engine's paged cache (kv/paged-kv-cache.h) behind the same test entry: proves the press really
// frees pages (bytes before / after) through PagedCacheAccess, exactly as a prefill would.
class PagedTestCache {
 public:
  PagedTestCache(const ModelConfig& model, DType dtype, int32_t page_tokens, int32_t max_tokens) {
    KvCacheOptions options;
    options.dtype = dtype;
    options.page_tokens = page_tokens;
    options.max_tokens = max_tokens;
    cache_ = KvCache::create(model, KvPool::create(0), options);
    access_ = std::make_unique<press::PagedCacheAccess>(paged(*cache_));
  }
  void append(int32_t layer, const float* keys, const float* values, const int32_t* positions, int32_t count, int32_t d) {
    PagedKvCache& c = paged(*cache_);
    for (int32_t h = 0; h < c.n_kv_heads(); ++h)
      c.append(layer, h, count, keys + (size_t)h * count * d, values + (size_t)h * count * d, d, positions + (size_t)h * count);
    for (int32_t i = 0; i < c.n_kv_heads() * count; ++i) end_position_ = std::max(end_position_, positions[i] + 1);
  }
  press::LayerCacheAccess& access() { return *access_; }
  size_t bytes() const { return cache_->bytes(); }
  // Drops every slot at position >= n_positions (this test cache appends without advancing the sequence,
  // so it first moves the sequence's end past everything appended).
  void truncate(int32_t n_positions) {
    PagedKvCache& c = paged(*cache_);
    if (end_position_ > c.next_position()) c.advance(end_position_ - c.next_position());
    c.truncate(n_positions);
  }

 private:
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<press::PagedCacheAccess> access_;
  int32_t end_position_ = 0;
};

// runPressPipeline(pressConfig, { config, n, layers: [{ hidden [n*hidden], keys [Hk*n*d], values, weights,
//   attentions? }], positions?, decode?: [{ q, layers: [{ hidden [q*hidden], keys [Hk*q*d], values }] }],
//   reconstruction?: { context: Int32Array [n] token ids, passes: [{ layers: [{ hidden [q*hidden], keys [Hk*q*d],
//   values }] }] } })
// → { layers: [{ kept: Int32Array[] (origins), positions: Int32Array[], keys: Float32Array[], values: Float32Array[],
//     scores?: Float32Array [Hk*n] (the last decision's, when the press scored) }], ratio, pressRatio, bytesBefore?,
//     bytesAfter?, passes?: [{ tokens: Int32Array, begin, end }] }
// `reconstruction` stands in for the forward of the press's reconstruction passes (press/context-prefill.h):
// pass i's inputs must have q = the length of the i-th planned pass (returned in `passes`).
// With inputs.cache = 'paged' (+ kvDtype 'f16' | 'f32', pageTokens) the engine's paged cache is used;
// `kept` then lists the kept slots' positions (the paged cache does not track insertion order).
Napi::Value run_press_pipeline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) bad("runPressPipeline(pressConfig, inputs) needs two objects");
  const PressConfig config = parse_press_config(info[0]);
  Napi::Object in = info[1].As<Napi::Object>();
  const ModelConfig model = parse_model_config(in.Get("config"));
  const int32_t L = model.n_layers, Hk = model.n_kv_heads, d = model.head_dim, D = model.hidden, H = model.n_heads;
  const int32_t n = get_int(in, "n", true);
  if (n <= 0) bad("inputs.n must be positive");
  Napi::Value lv = in.Get("layers");
  if (!lv.IsArray() || lv.As<Napi::Array>().Length() != (uint32_t)L) bad("inputs.layers must hold one entry per layer");
  Napi::Array layers = lv.As<Napi::Array>();
  std::vector<int32_t> positions = parse_positions(in.Get("positions"), Hk, n);

  press::PressPipeline pipeline(config, model);
  pipeline.record_scores(true);
  if (!in.Get("seed").IsUndefined()) pipeline.press().rng().seed((uint64_t)get_number(in, "seed", 0));
  PlainWeights weights(model);
  PlainCache plain(L, Hk, d);
  Napi::Value cache_kind = in.Get("cache");
  const bool use_paged = cache_kind.IsString() && cache_kind.As<Napi::String>().Utf8Value() == "paged";
  std::unique_ptr<PagedTestCache> paged_cache;
  if (use_paged) {
    Napi::Value dt = in.Get("kvDtype");
    const bool f32 = dt.IsString() && dt.As<Napi::String>().Utf8Value() == "f32";
    paged_cache = std::make_unique<PagedTestCache>(model, f32 ? DType::F32 : DType::F16, get_int(in, "pageTokens", false, 16),
                                                   1 << 20);
  }
  press::LayerCacheAccess& cache = use_paged ? paged_cache->access() : static_cast<press::LayerCacheAccess&>(plain);
  auto append = [&](int32_t l, const float* k, const float* v, const int32_t* p, int32_t count, int32_t origin) {
    if (use_paged) paged_cache->append(l, k, v, p, count, d);
    else plain.append(l, k, v, p, count, origin);
  };
  // One later forward's per-layer inputs (q rows at positions first, first + 1, ...): appends its K / V to
  // every layer and hands each layer's X to `after` (a reconstruction pass or a decoding step).
  auto feed = [&](Napi::Array step_layers, int32_t q, int32_t first, int32_t origin,
                  const std::function<void(int32_t layer, const float* x)>& after) {
    std::vector<int32_t> step_positions((size_t)Hk * q);
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t t = 0; t < q; ++t) step_positions[(size_t)h * q + t] = first + t;
    for (int32_t l = 0; l < L; ++l) {
      if (!step_layers.Get(l).IsObject()) bad("per-layer inputs must be objects");
      Napi::Object layer = step_layers.Get(l).As<Napi::Object>();
      std::vector<float> x = get_floats(layer, "hidden", (size_t)q * D, true);
      std::vector<float> keys = get_floats(layer, "keys", (size_t)Hk * q * d, true);
      std::vector<float> values = get_floats(layer, "values", (size_t)Hk * q * d, true);
      append(l, keys.data(), values.data(), step_positions.data(), q, origin);
      after(l, x.data());
    }
  };
  std::vector<std::vector<float>> hidden(L);
  std::vector<std::vector<float>> attentions(L);
  for (int32_t l = 0; l < L; ++l) {
    if (!layers.Get(l).IsObject()) bad("inputs.layers entries must be objects");
    Napi::Object layer = layers.Get(l).As<Napi::Object>();
    hidden[l] = get_floats(layer, "hidden", (size_t)n * D, true);
    std::vector<float> keys = get_floats(layer, "keys", (size_t)Hk * n * d, true);
    std::vector<float> values = get_floats(layer, "values", (size_t)Hk * n * d, true);
    attentions[l] = get_floats(layer, "attentions", (size_t)H * n * n, false);
    weights.layers[l] = parse_weights(layer.Get("weights"), model);
    append(l, keys.data(), values.data(), positions.data(), n, 0);
  }
  const size_t bytes_before = use_paged ? paged_cache->bytes() : 0;
  pipeline.begin_prefill(n);
  std::vector<press::ReconstructionPass> planned;
  Napi::Value rv = in.Get("reconstruction");
  if (rv.IsObject()) {
    Napi::Object rec = rv.As<Napi::Object>();
    Napi::Value ctx = rec.Get("context");
    if (!ctx.IsTypedArray() || ctx.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        ctx.As<Napi::Int32Array>().ElementLength() != (size_t)n)
      bad("inputs.reconstruction.context must be an Int32Array of n token ids");
    Napi::Int32Array ids = ctx.As<Napi::Int32Array>();
    planned = pipeline.plan_reconstruction(std::vector<int32_t>(ids.Data(), ids.Data() + n));
  }
  for (int32_t l = 0; l < L; ++l)
    pipeline.after_layer(l, hidden[l].data(), n, 0, cache, weights, attentions[l].empty() ? nullptr : attentions[l].data());
  if (!planned.empty()) {
    Napi::Value pv = rv.As<Napi::Object>().Get("passes");
    if (!pv.IsArray() || pv.As<Napi::Array>().Length() != planned.size())
      bad("inputs.reconstruction.passes must hold one entry per planned pass (" + std::to_string(planned.size()) + ")");
    Napi::Array passes = pv.As<Napi::Array>();
    for (size_t i = 0; i < planned.size(); ++i) {
      const int32_t q = (int32_t)planned[i].tokens.size();
      Napi::Value plv = passes.Get(i).IsObject() ? passes.Get(i).As<Napi::Object>().Get("layers") : Napi::Value();
      if (!plv.IsArray() || plv.As<Napi::Array>().Length() != (uint32_t)L) bad("reconstruction passes need one layer entry per layer");
      feed(plv.As<Napi::Array>(), q, n, n,
           [&](int32_t l, const float* x) { pipeline.after_pass_layer((int32_t)i, l, x, q, n, cache, weights); });
      if (use_paged) paged_cache->truncate(n);
      else plain.truncate(n);
    }
  }
  pipeline.finish_prefill(cache, weights);
  const size_t bytes_after = use_paged ? paged_cache->bytes() : 0;

  Napi::Value dv = in.Get("decode");
  if (dv.IsArray()) {
    Napi::Array steps = dv.As<Napi::Array>();
    int32_t next_position = n, origin = n;
    for (uint32_t s = 0; s < steps.Length(); ++s) {
      if (!steps.Get(s).IsObject()) bad("inputs.decode entries must be objects");
      Napi::Object step = steps.Get(s).As<Napi::Object>();
      const int32_t q = get_int(step, "q", false, 1);
      Napi::Value slv = step.Get("layers");
      if (q <= 0 || !slv.IsArray() || slv.As<Napi::Array>().Length() != (uint32_t)L) bad("decode steps need q > 0 and one layer entry per layer");
      feed(slv.As<Napi::Array>(), q, next_position, origin,
           [&](int32_t l, const float* x) { pipeline.after_decode_layer(l, x, q, next_position, cache, weights); });
      next_position += q;
      origin += q;
    }
  }

  Napi::Object out = Napi::Object::New(env);
  Napi::Array result = Napi::Array::New(env, L);
  for (int32_t l = 0; l < L; ++l) {
    Napi::Object layer = Napi::Object::New(env);
    Napi::Array kept = Napi::Array::New(env, Hk), pos = Napi::Array::New(env, Hk), keys = Napi::Array::New(env, Hk),
                values = Napi::Array::New(env, Hk);
    std::vector<float> all_keys, all_values;
    std::vector<int32_t> all_positions;
    cache.gather(l, all_keys, all_values, all_positions);
    const size_t width = all_positions.size() / Hk;
    for (int32_t h = 0; h < Hk; ++h) {
      std::vector<int32_t> origins, ps;
      std::vector<float> ks, vs;
      for (size_t t = 0; t < width; ++t) {
        const size_t at = h * width + t;
        if (all_positions[at] < 0) continue;  // front padding of a shorter head
        ps.push_back(all_positions[at]);
        ks.insert(ks.end(), all_keys.begin() + at * d, all_keys.begin() + (at + 1) * d);
        vs.insert(vs.end(), all_values.begin() + at * d, all_values.begin() + (at + 1) * d);
      }
      if (use_paged) origins = ps;
      else
        for (const auto& slot : plain.slots()[l][h]) origins.push_back(slot.origin);
      kept.Set(h, int_array(env, origins));
      pos.Set(h, int_array(env, ps));
      keys.Set(h, float_array(env, ks));
      values.Set(h, float_array(env, vs));
    }
    layer.Set("kept", kept);
    layer.Set("positions", pos);
    layer.Set("keys", keys);
    layer.Set("values", values);
    if ((size_t)l < pipeline.stats().size() && !pipeline.stats()[l].scores.empty())
      layer.Set("scores", float_array(env, pipeline.stats()[l].scores));
    result.Set(l, layer);
  }
  out.Set("layers", result);
  out.Set("ratio", Napi::Number::New(env, pipeline.achieved_ratio()));
  if (use_paged) {
    out.Set("bytesBefore", Napi::Number::New(env, (double)bytes_before));
    out.Set("bytesAfter", Napi::Number::New(env, (double)bytes_after));
  }
  out.Set("pressRatio", Napi::Number::New(env, pipeline.press().compression_ratio()));
  if (!planned.empty()) {
    Napi::Array passes = Napi::Array::New(env, planned.size());
    for (size_t i = 0; i < planned.size(); ++i) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("tokens", int_array(env, planned[i].tokens));
      p.Set("begin", planned[i].begin);
      p.Set("end", planned[i].end);
      passes.Set((uint32_t)i, p);
    }
    out.Set("passes", passes);
  }
  return out;
}

// pressEvalContext(modelHandle, contextTokens: Int32Array, pressConfig | null, options?: { continuation?:
//   Int32Array, kvDtype?: 'f16' | 'f32', pageTokens?, chunkSize? })
// → { tokensBefore, tokensAfter, bytesBefore, bytesAfter, perLayer: [{ layer, perHead: number[] }], ratio,
//     logits?: Float32Array [continuation.length × vocab] }
// Prefills the context layer-major with the press compressing each layer (the engine's own forward and
// paged cache), then evaluates the continuation on top of the compressed cache (all rows' logits), at the
// positions a session's prefillContext gives it (both run press/context-prefill.h): what
// the press quality evaluation (KL / top-1 against ratio 0) and the memory checks need. Synchronous.
}  // namespace

void register_press_test_harness(Napi::Env env, Napi::Object exports) {
  exports.Set("scorePressLayer", Napi::Function::New(env, js_entry<score_press_layer>, "scorePressLayer"));
  exports.Set("runPressPipeline", Napi::Function::New(env, js_entry<run_press_pipeline>, "runPressPipeline"));
  exports.Set("pressNames", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    const auto& names = press::press_names();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
    return out;
  }, "pressNames"));
}

}  // namespace presskv::addon

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  presskv::addon::register_press_test_harness(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(presskv_testing, Init)
