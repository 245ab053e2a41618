// JS surface of the native presses: pure, testable entries that run one press on plain arrays.
//   scorePressLayer(pressConfig, inputs) → { scores?, kept, keys?, values?, positions?, channelRatio }
//   pressNames() → string[]
// pressConfig = { name, options?: { camelCase: number | boolean | string | number[] }, press?, presses? }
// (option 'path' / 'statsPath' / 'artefactPath' = the artefact file).
#include <napi.h>

#include <cmath>
#include <cstring>

#include "addon/registry.h"
#include "core/errors.h"
#include "press/press.h"
#include "press/rope.h"

namespace presskv::addon {
namespace {

using press::LayerDecision;
using press::LayerView;
using press::PressConfig;

[[noreturn]] void bad(const std::string& message) { throw EngineError(ErrorCode::InvalidArgument, message); }

PressConfig parse_press_config(const Napi::Value& value, int depth) {
  if (depth > 16) bad("press config nested too deeply");
  if (!value.IsObject() || value.IsArray()) bad("press config must be an object { name, options?, press?, presses? }");
  Napi::Object obj = value.As<Napi::Object>();
  PressConfig config;
  Napi::Value name = obj.Get("name");
  if (!name.IsString()) bad("press config needs a string 'name' (a kvpress class name such as 'SnapKVPress')");
  config.name = name.As<Napi::String>().Utf8Value();
  Napi::Value options = obj.Get("options");
  if (!options.IsUndefined() && !options.IsNull()) {
    if (!options.IsObject() || options.IsArray()) bad(config.name + ": options must be an object");
    Napi::Object opts = options.As<Napi::Object>();
    Napi::Array keys = opts.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = opts.Get(key);
      if (v.IsUndefined() || v.IsNull()) continue;
      if (v.IsNumber()) {
        config.numbers[key] = v.As<Napi::Number>().DoubleValue();
      } else if (v.IsBoolean()) {
        config.numbers[key] = v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      } else if (v.IsString()) {
        const std::string text = v.As<Napi::String>().Utf8Value();
        if (key == "path" || key == "statsPath" || key == "artefactPath") config.artefact_path = text;
        else config.strings[key] = text;
      } else if (v.IsArray()) {
        Napi::Array arr = v.As<Napi::Array>();
        std::vector<double> list;
        for (uint32_t j = 0; j < arr.Length(); ++j) {
          Napi::Value item = arr.Get(j);
          if (!item.IsNumber()) bad(config.name + ": option '" + key + "' must be an array of numbers");
          list.push_back(item.As<Napi::Number>().DoubleValue());
        }
        config.lists[key] = list;
      } else if (key == "press" && v.IsObject()) {
        config.children.push_back(parse_press_config(v, depth + 1));
      } else {
        bad(config.name + ": option '" + key + "' has an unsupported type");
      }
    }
  }
  Napi::Value inner = obj.Get("press");
  if (!inner.IsUndefined() && !inner.IsNull()) config.children.push_back(parse_press_config(inner, depth + 1));
  Napi::Value list = obj.Get("presses");
  if (!list.IsUndefined() && !list.IsNull()) {
    if (!list.IsArray()) bad(config.name + ": presses must be an array of press configs");
    Napi::Array arr = list.As<Napi::Array>();
    for (uint32_t j = 0; j < arr.Length(); ++j) config.children.push_back(parse_press_config(arr.Get(j), depth + 1));
  }
  return config;
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

// ModelAccess over one layer's plain f32 weights (tests, custom tools): projections, optional bias and
// qwen3-style per-head RMSNorm.
class PlainWeights : public press::ModelAccess {
 public:
  explicit PlainWeights(const ModelConfig& c) : config_(c) {}
  const ModelConfig& config() const override { return config_; }
  void prerope_queries(int32_t, const float* x, int32_t rows, float* out) const override {
    project(wq, bq, q_norm, config_.n_heads, x, rows, out);
  }
  void prerope_keys(int32_t, const float* x, int32_t rows, float* out) const override {
    project(wk, bk, k_norm, config_.n_kv_heads, x, rows, out);
  }
  bool has_output_projection(int32_t) const override { return !wo.empty(); }
  void output_projection(int32_t, int32_t head, float* out) const override {
    if (wo.empty()) bad("this press needs weights.wo (the output projection [hidden, nHeads*headDim])");
    const int32_t d = config_.head_dim, D = config_.hidden, HD = config_.n_heads * d;
    for (int32_t c = 0; c < d; ++c)
      for (int32_t o = 0; o < D; ++o) out[(size_t)c * D + o] = wo[(size_t)o * HD + head * d + c];
  }

  std::vector<float> wq, wk, wo, bq, bk, q_norm, k_norm;

 private:
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
  try {
    if (info.Length() < 2 || !info[1].IsObject()) bad("scorePressLayer(pressConfig, inputs) needs two objects");
    const PressConfig config = parse_press_config(info[0], 0);
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
    std::vector<int32_t> positions((size_t)Hk * n);
    Napi::Value pos = in.Get("positions");
    if (pos.IsUndefined() || pos.IsNull()) {
      for (int32_t h = 0; h < Hk; ++h)
        for (int32_t t = 0; t < n; ++t) positions[(size_t)h * n + t] = t;
    } else {
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
    }
    if (!in.Get("seed").IsUndefined()) p->rng().seed((uint64_t)get_number(in, "seed", 0));

    PlainWeights weights(model);
    Napi::Value wv = in.Get("weights");
    if (!wv.IsObject()) bad("inputs.weights must be an object { wq, wk, wo?, bq?, bk?, qNorm?, kNorm? }");
    Napi::Object w = wv.As<Napi::Object>();
    weights.wq = get_floats(w, "wq", (size_t)H * d * D, true);
    weights.wk = get_floats(w, "wk", (size_t)Hk * d * D, true);
    weights.wo = get_floats(w, "wo", (size_t)D * H * d, false);
    weights.bq = get_floats(w, "bq", (size_t)H * d, false);
    weights.bk = get_floats(w, "bk", (size_t)Hk * d, false);
    weights.q_norm = get_floats(w, "qNorm", (size_t)d, false);
    weights.k_norm = get_floats(w, "kNorm", (size_t)d, false);

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
    return out;
  } catch (const EngineError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, error_code_name(e.code())));
    throw err;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "ERR_INTERNAL"));
    throw err;
  }
}

Napi::Value press_names(const Napi::CallbackInfo& info) {
  const auto& names = press::press_names();
  Napi::Array arr = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) arr.Set((uint32_t)i, Napi::String::New(info.Env(), names[i]));
  return arr;
}

}  // namespace

void register_press(Napi::Env env, Napi::Object exports) {
  exports.Set("scorePressLayer", Napi::Function::New(env, score_press_layer, "scorePressLayer"));
  exports.Set("pressNames", Napi::Function::New(env, press_names, "pressNames"));
}

}  // namespace presskv::addon
