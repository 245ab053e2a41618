#include "addon/press-config-js.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "core/errors.h"
#include "press/press.h"

namespace presskv::addon {
namespace {

using press::PressConfig;

[[noreturn]] void bad(const std::string& message) { throw EngineError(ErrorCode::InvalidArgument, message); }

// CustomScorerPress's score(layer) called synchronously on the JS thread (scorePressLayer,
// runPressPipeline). A session running presses on a worker thread needs a blocking ThreadSafeFunction
// version of this class instead.
class JsScorer : public press::ExternalScorer {
 public:
  JsScorer(Napi::Env env, Napi::Function fn) : env_(env), fn_(Napi::Persistent(fn)) {}
  void score(const press::LayerView& v, const std::vector<float>& window_queries, int32_t window, std::vector<float>& scores) override {
    scores = scores_from_js(fn_.Call({scorer_layer_object(env_, v, window_queries, window)}));
  }

 private:
  Napi::Env env_;
  Napi::FunctionReference fn_;
};

PressConfig parse_config(const Napi::Value& value, int depth) {
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
        config.children.push_back(parse_config(v, depth + 1));
      } else {
        bad(config.name + ": option '" + key + "' has an unsupported type");
      }
    }
  }
  Napi::Value score = obj.Get("score");
  if (score.IsFunction()) config.external_scorer = std::make_shared<JsScorer>(value.Env(), score.As<Napi::Function>());
  Napi::Value inner = obj.Get("press");
  if (!inner.IsUndefined() && !inner.IsNull()) config.children.push_back(parse_config(inner, depth + 1));
  Napi::Value list = obj.Get("presses");
  if (!list.IsUndefined() && !list.IsNull()) {
    if (!list.IsArray()) bad(config.name + ": presses must be an array of press configs");
    Napi::Array arr = list.As<Napi::Array>();
    for (uint32_t j = 0; j < arr.Length(); ++j) config.children.push_back(parse_config(arr.Get(j), depth + 1));
  }
  return config;
}

}  // namespace

Napi::Object scorer_layer_object(Napi::Env env, const press::LayerView& v, const std::vector<float>& window_queries,
                                 int32_t window) {
  Napi::Object layer = Napi::Object::New(env);
  layer.Set("layer", v.layer);
  layer.Set("nLayers", v.n_layers);
  layer.Set("n", v.n);
  layer.Set("q", v.q);
  layer.Set("nHeads", v.n_heads);
  layer.Set("nKvHeads", v.n_kv_heads);
  layer.Set("headDim", v.head_dim);
  layer.Set("hiddenSize", v.hidden_size);
  layer.Set("hiddenStates", float_copy(env, v.hidden, (size_t)v.q * v.hidden_size));
  layer.Set("keys", float_copy(env, v.keys, (size_t)v.n_kv_heads * v.n * v.head_dim));
  layer.Set("values", float_copy(env, v.values, (size_t)v.n_kv_heads * v.n * v.head_dim));
  layer.Set("positions", int_copy(env, v.positions, (size_t)v.n_kv_heads * v.n));
  layer.Set("windowSize", window);
  layer.Set("windowQueries", float_copy(env, window_queries.data(), window_queries.size()));
  return layer;
}

std::vector<float> scores_from_js(const Napi::Value& result) {
  std::vector<float> out;
  if (result.IsTypedArray() && result.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    Napi::Float32Array a = result.As<Napi::Float32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (result.IsTypedArray() && result.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    Napi::Float64Array a = result.As<Napi::Float64Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (result.IsArray()) {
    Napi::Array a = result.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value x = a.Get(i);
      if (!x.IsNumber()) throw EngineError(ErrorCode::InvalidArgument, "CustomScorerPress: score() must return numbers");
      out.push_back(x.As<Napi::Number>().FloatValue());
    }
  } else {
    throw EngineError(ErrorCode::InvalidArgument, "CustomScorerPress: score() must return a Float32Array, Float64Array or number[]");
  }
  for (float x : out)
    if (std::isnan(x)) throw EngineError(ErrorCode::InvalidArgument, "CustomScorerPress: score() returned NaN");
  return out;
}

Napi::Float32Array float_copy(Napi::Env env, const float* data, size_t count) {
  Napi::Float32Array arr = Napi::Float32Array::New(env, count);
  if (count) std::memcpy(arr.Data(), data, count * sizeof(float));
  return arr;
}

Napi::Int32Array int_copy(Napi::Env env, const int32_t* data, size_t count) {
  Napi::Int32Array arr = Napi::Int32Array::New(env, count);
  if (count) std::memcpy(arr.Data(), data, count * sizeof(int32_t));
  return arr;
}

PressConfig parse_press_config(const Napi::Value& value) { return parse_config(value, 0); }

}  // namespace presskv::addon
