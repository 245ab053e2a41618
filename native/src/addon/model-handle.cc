// loadModel(spec, options) → ModelHandle, and the handle's methods (model-handle.h).
#include "addon/model-handle.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "addon/registry.h"
#include "core/errors.h"
#include "kv/kv-cache.h"
#include "model/forward.h"

namespace presskv::addon {
namespace {

[[noreturn]] void throw_js(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, error_code_name(code)));
  throw err;
}

[[noreturn]] void bad_arg(Napi::Env env, const std::string& message) { throw_js(env, ErrorCode::InvalidArgument, message); }

Napi::Value field(const Napi::Object& obj, const char* key) { return obj.Get(key); }

Napi::Object object_at(Napi::Env env, const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key);
  if (!v.IsObject()) bad_arg(env, where + "." + key + " must be an object");
  return v.As<Napi::Object>();
}

double number_at(Napi::Env env, const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    bad_arg(env, where + "." + key + " must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t integer_at(Napi::Env env, const Napi::Object& obj, const char* key, const std::string& where, int64_t lo,
                   int64_t hi) {
  const double d = number_at(env, obj, key, where);
  if (d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    bad_arg(env, where + "." + key + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

std::string string_at(Napi::Env env, const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key);
  if (!v.IsString()) bad_arg(env, where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool bool_at(Napi::Env env, const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) bad_arg(env, where + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

constexpr int64_t kMaxInt32 = 2147483647;
constexpr int64_t kMaxSafe = 9007199254740991;

DType dtype_named(Napi::Env env, const std::string& s, const std::string& where) {
  if (s == "f32") return DType::F32;
  if (s == "f16") return DType::F16;
  if (s == "bf16") return DType::BF16;
  throw_js(env, ErrorCode::UnsupportedDtype, where + ": unsupported dtype '" + s + "' (supported: f32, f16, bf16)");
}

ModelConfig parse_config(Napi::Env env, const Napi::Object& o) {
  const std::string w = "spec.config";
  ModelConfig c;
  c.arch = string_at(env, o, "arch", w);
  c.n_layers = static_cast<int32_t>(integer_at(env, o, "nLayers", w, 0, kMaxInt32));
  c.hidden = static_cast<int32_t>(integer_at(env, o, "hidden", w, 0, kMaxInt32));
  c.n_heads = static_cast<int32_t>(integer_at(env, o, "nHeads", w, 0, kMaxInt32));
  c.n_kv_heads = static_cast<int32_t>(integer_at(env, o, "nKvHeads", w, 0, kMaxInt32));
  c.head_dim = static_cast<int32_t>(integer_at(env, o, "headDim", w, 0, kMaxInt32));
  c.ffn = static_cast<int32_t>(integer_at(env, o, "ffn", w, 0, kMaxInt32));
  c.vocab = static_cast<int32_t>(integer_at(env, o, "vocab", w, 0, kMaxInt32));
  c.context_length = static_cast<int32_t>(integer_at(env, o, "contextLength", w, 0, kMaxInt32));
  c.rms_eps = static_cast<float>(number_at(env, o, "rmsEps", w));
  c.rope_theta = static_cast<float>(number_at(env, o, "ropeTheta", w));
  c.rope_dim = field(o, "ropeDim").IsUndefined() ? 0 : static_cast<int32_t>(integer_at(env, o, "ropeDim", w, 0, kMaxInt32));
  const std::string style = string_at(env, o, "ropeStyle", w);
  if (style == "interleaved") c.rope_style = RopeStyle::Interleaved;
  else if (style == "half-split") c.rope_style = RopeStyle::HalfSplit;
  else bad_arg(env, w + ".ropeStyle must be 'interleaved' or 'half-split', got '" + style + "'");
  Napi::Value rs = field(o, "ropeScaling");
  if (!rs.IsUndefined() && !rs.IsNull()) {
    if (!rs.IsObject()) bad_arg(env, w + ".ropeScaling must be an object");
    const Napi::Object s = rs.As<Napi::Object>();
    const std::string sw = w + ".ropeScaling";
    c.rope_scaling.type = string_at(env, s, "type", sw);
    if (!c.rope_scaling.type.empty()) {
      c.rope_scaling.factor = static_cast<float>(number_at(env, s, "factor", sw));
      if (c.rope_scaling.type == "llama3") {
        c.rope_scaling.low_freq_factor = static_cast<float>(number_at(env, s, "lowFreqFactor", sw));
        c.rope_scaling.high_freq_factor = static_cast<float>(number_at(env, s, "highFreqFactor", sw));
        c.rope_scaling.original_max_position =
            static_cast<int32_t>(integer_at(env, s, "originalMaxPosition", sw, 1, kMaxInt32));
      }
    }
  }
  c.qkv_bias = bool_at(env, o, "qkvBias", w);
  c.qk_norm = bool_at(env, o, "qkNorm", w);
  c.tied_embeddings = bool_at(env, o, "tiedEmbeddings", w);
  return c;
}

ModelSpec parse_spec(Napi::Env env, Napi::Value value) {
  if (!value.IsObject()) bad_arg(env, "loadModel: spec must be an object");
  const Napi::Object spec = value.As<Napi::Object>();
  ModelSpec out;
  out.config = parse_config(env, object_at(env, spec, "config", "spec"));
  Napi::Value files = field(spec, "files");
  if (!files.IsArray()) bad_arg(env, "spec.files must be an array of paths");
  const Napi::Array fa = files.As<Napi::Array>();
  for (uint32_t i = 0; i < fa.Length(); ++i) {
    Napi::Value f = fa.Get(i);
    if (!f.IsString()) bad_arg(env, "spec.files[" + std::to_string(i) + "] must be a string");
    out.files.push_back(f.As<Napi::String>().Utf8Value());
  }
  Napi::Value tensors = field(spec, "tensors");
  if (!tensors.IsArray()) bad_arg(env, "spec.tensors must be an array");
  const Napi::Array ta = tensors.As<Napi::Array>();
  out.tensors.reserve(ta.Length());
  for (uint32_t i = 0; i < ta.Length(); ++i) {
    const std::string w = "spec.tensors[" + std::to_string(i) + "]";
    Napi::Value tv = ta.Get(i);
    if (!tv.IsObject()) bad_arg(env, w + " must be an object");
    const Napi::Object t = tv.As<Napi::Object>();
    TensorDesc d;
    d.name = string_at(env, t, "name", w);
    d.dtype = dtype_named(env, string_at(env, t, "dtype", w), "tensor '" + d.name + "'");
    Napi::Value shape = field(t, "shape");
    if (!shape.IsArray()) bad_arg(env, w + ".shape must be an array");
    const Napi::Array sa = shape.As<Napi::Array>();
    for (uint32_t j = 0; j < sa.Length(); ++j) {
      Napi::Value dim = sa.Get(j);
      const double v = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1.0;
      if (!(v >= 0 && v == std::floor(v) && v <= kMaxSafe)) bad_arg(env, w + ".shape must hold non-negative integers");
      d.shape.push_back(static_cast<int64_t>(v));
    }
    d.file_index = static_cast<int32_t>(integer_at(env, t, "fileIndex", w, 0, kMaxInt32));
    d.offset = static_cast<uint64_t>(integer_at(env, t, "offset", w, 0, kMaxSafe));
    d.nbytes = static_cast<uint64_t>(integer_at(env, t, "nbytes", w, 0, kMaxSafe));
    out.tensors.push_back(std::move(d));
  }
  return out;
}

// Marks objects made by the ModelHandle constructor, so from() rejects other wrapped objects.
const napi_type_tag kModelHandleTag = {0x7072657373b5a1c3ull, 0x4d6f64656c48646cull};

// Hands the freshly loaded model to the ModelHandle constructor (JS cannot pass a C++ pointer).
thread_local std::shared_ptr<Model> t_pending_model;
thread_local int t_pending_threads = 1;

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  const ModelSpec spec = parse_spec(env, info[0]);
  int threads = default_threads();
  LoadOptions load_options;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsObject()) bad_arg(env, "loadModel: options must be an object");
    const Napi::Object o = info[1].As<Napi::Object>();
    if (!field(o, "threads").IsUndefined()) threads = static_cast<int>(integer_at(env, o, "threads", "options", 1, 1024));
    if (!field(o, "mmap").IsUndefined()) load_options.mmap = bool_at(env, o, "mmap", "options");
  }
  std::shared_ptr<Model> model;
  try {
    model = Model::load(spec, load_options);
  } catch (const EngineError& e) {
    throw_js(env, e.code(), e.what());
  } catch (const std::exception& e) {
    throw_js(env, ErrorCode::Internal, std::string("loadModel: ") + e.what());
  }
  t_pending_model = std::move(model);
  t_pending_threads = threads;
  Napi::Object handle = ctor->New({});
  return handle;
}

}  // namespace

Napi::Function ModelHandle::define_class(Napi::Env env) {
  return DefineClass(env, "ModelHandle",
                     {InstanceMethod<&ModelHandle::weight_bytes>("weightBytes"),
                      InstanceMethod<&ModelHandle::fingerprint>("fingerprint"),
                      InstanceMethod<&ModelHandle::dispose>("dispose"),
                      InstanceMethod<&ModelHandle::eval_logits>("evalLogits")});
}

ModelHandle::ModelHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelHandle>(info) {
  if (!t_pending_model) bad_arg(info.Env(), "ModelHandle cannot be constructed directly; use loadModel()");
  model_ = std::move(t_pending_model);
  threads_ = t_pending_threads;
  napi_type_tag_object(info.Env(), info.This(), &kModelHandleTag);
}

ModelHandle* ModelHandle::from(Napi::Value value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) bad_arg(env, "expected a ModelHandle (from loadModel)");
  bool tagged = false;
  if (napi_check_object_type_tag(env, value, &kModelHandleTag, &tagged) != napi_ok || !tagged)
    bad_arg(env, "expected a ModelHandle (from loadModel)");
  ModelHandle* handle = Napi::ObjectWrap<ModelHandle>::Unwrap(value.As<Napi::Object>());
  if (!handle) bad_arg(env, "expected a ModelHandle (from loadModel)");
  if (!handle->model_) bad_arg(env, "the model handle was disposed");
  return handle;
}

std::shared_ptr<ThreadPool> ModelHandle::thread_pool() {
  if (!pool_) pool_ = std::make_shared<ThreadPool>(threads_);
  return pool_;
}

Model& ModelHandle::live_model(Napi::Env env) {
  if (!model_) bad_arg(env, "the model handle was disposed");
  return *model_;
}

Napi::Value ModelHandle::weight_bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live_model(info.Env()).weight_bytes()));
}

Napi::Value ModelHandle::fingerprint(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), live_model(info.Env()).fingerprint());
}

Napi::Value ModelHandle::dispose(const Napi::CallbackInfo& info) {
  live_model(info.Env());
  model_.reset();
  pool_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelHandle::eval_logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live_model(env);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    bad_arg(env, "evalLogits: tokens must be an Int32Array");
  const Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
  bool all = false;
  int32_t device = -1;  // -1: CPU, N: CUDA device N
  KvCacheOptions kv;
  EvalOptions eval;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) bad_arg(env, "evalLogits: options must be an object");
    const Napi::Object o = info[1].As<Napi::Object>();
    const std::string w = "evalLogits options";
    all = bool_at(env, o, "all", w);
    if (!field(o, "kvDtype").IsUndefined()) {
      const std::string d = string_at(env, o, "kvDtype", w);
      if (d != "f16" && d != "f32") bad_arg(env, "evalLogits: kvDtype must be 'f16' or 'f32', got '" + d + "'");
      kv.dtype = d == "f16" ? DType::F16 : DType::F32;
    }
    if (!field(o, "chunkSize").IsUndefined()) eval.chunk_size = static_cast<int32_t>(integer_at(env, o, "chunkSize", w, 1, kMaxInt32));
    if (!field(o, "pageTokens").IsUndefined()) kv.page_tokens = static_cast<int32_t>(integer_at(env, o, "pageTokens", w, 1, 65536));
    if (!field(o, "device").IsUndefined()) device = static_cast<int32_t>(integer_at(env, o, "device", w, -1, 1023));
  }
  eval.logits = all ? LogitsMode::All : LogitsMode::Last;
  std::vector<float> logits;
  try {
    auto cache = KvCache::create(model_->config(), KvPool::create(0), kv);
    auto forward = device >= 0 ? Forward::create_cuda(model_, device) : Forward::create(model_, *thread_pool());
    forward->eval(*cache, tokens.Data(), static_cast<int32_t>(tokens.ElementLength()), eval, logits);
  } catch (const EngineError& e) {
    throw_js(env, e.code(), e.what());
  } catch (const std::exception& e) {
    throw_js(env, ErrorCode::Internal, std::string("evalLogits: ") + e.what());
  }
  Napi::Float32Array out = Napi::Float32Array::New(env, logits.size());
  std::copy(logits.begin(), logits.end(), out.Data());
  return out;
}

void register_model(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = ModelHandle::define_class(env);
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(cls));  // lives as long as the module
  exports.Set("ModelHandle", cls);
  exports.Set("loadModel", Napi::Function::New(env, load_model, "loadModel", ctor));
}

}  // namespace presskv::addon
