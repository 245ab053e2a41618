#include "addon/runtime-handle.h"

#include <thread>

#include "addon/js-options.h"
#include "addon/model-handle.h"
#include "addon/session-handle.h"

namespace presskv::addon {

Napi::Function RuntimeHandle::define_class(Napi::Env env) {
  return DefineClass(env, "Runtime",
                     {
                         InstanceMethod<&RuntimeHandle::create_session>("createSession"),
                         InstanceMethod<&RuntimeHandle::set_vocabulary>("setVocabulary"),
                         InstanceMethod<&RuntimeHandle::stats>("stats"),
                         InstanceMethod<&RuntimeHandle::dispose>("dispose"),
                     });
}

RuntimeHandle* RuntimeHandle::from(Napi::Value value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addon_classes(env).runtime.Value()))
    throw_invalid(env, "expected a Runtime (from createRuntime)");
  auto* handle = Unwrap(value.As<Napi::Object>());
  if (!handle->core_ || handle->core_->is_shut_down()) throw_invalid(env, "the runtime has been disposed");
  return handle;
}

RuntimeHandle::RuntimeHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RuntimeHandle>(info) {
  Napi::Env env = info.Env();
  ModelHandle* model = ModelHandle::from(info[0]);
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  RuntimeOptions options;
  const int32_t hw = int32_t(std::max(1u, std::thread::hardware_concurrency()));
  options.threads = read_int(env, o, "threads", model->threads() > 0 ? model->threads() : hw, 1, 1024);
  const double budget = read_number(env, o, "kvBudgetBytes", 0);
  if (!(budget >= 0) || budget > 9007199254740991.0) throw_invalid(env, "kvBudgetBytes must be a number >= 0");
  options.kv_budget_bytes = size_t(budget);
  if (has_field(o, "kvDtype")) {
    const std::string dtype = o.Get("kvDtype").ToString().Utf8Value();
    if (dtype == "f16")
      options.kv_dtype = DType::F16;
    else if (dtype == "f32")
      options.kv_dtype = DType::F32;
    else
      throw_invalid(env, "kvDtype must be 'f16' or 'f32', got '" + dtype + "'");
  }
  options.page_tokens = read_int(env, o, "pageTokens", options.page_tokens, 1, 1 << 20);
  options.prefill_chunk = read_int(env, o, "prefillChunk", options.prefill_chunk, 1, 1 << 20);
  options.decode_batch = read_int(env, o, "decodeBatch", options.decode_batch, 1, 256);
  options.device = read_int(env, o, "device", -1, -1, 1023);
  try {
    core_ = std::make_shared<RuntimeCore>(model->model(), std::make_shared<ThreadPool>(options.threads), options);
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
}

RuntimeHandle::~RuntimeHandle() = default;

Napi::Value RuntimeHandle::create_session(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_->is_shut_down()) throw_invalid(env, "the runtime has been disposed");
  Napi::Value options = info[0].IsObject() ? info[0] : Napi::Object::New(env);
  return addon_classes(env).session.New({Value(), options});
}

Napi::Value RuntimeHandle::set_vocabulary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto vocabulary = std::make_shared<Vocabulary>(read_byte_strings(env, info[0], "vocabulary"));
  if (vocabulary->size() < size_t(core_->vocab))
    throw_invalid(env, "the vocabulary has " + std::to_string(vocabulary->size()) + " entries but the model has " +
                           std::to_string(core_->vocab) + " token ids");
  core_->set_vocabulary(std::move(vocabulary));
  return env.Undefined();
}

Napi::Value RuntimeHandle::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("kvBytesInUse", Napi::Number::New(env, double(core_->kv_pool->bytes_in_use())));
  out.Set("kvBudgetBytes", Napi::Number::New(env, double(core_->kv_pool->budget_bytes())));
  out.Set("pendingJobs", Napi::Number::New(env, double(core_->scheduler->pending())));
  out.Set("threads", Napi::Number::New(env, core_->options.threads));
  out.Set("prefillChunk", Napi::Number::New(env, core_->options.prefill_chunk));
  out.Set("kvDtype", Napi::String::New(env, dtype_name(core_->options.kv_dtype)));
  out.Set("decodeBatch", Napi::Number::New(env, core_->options.decode_batch));
  const DecodeBatchStats batches = core_->decode_batcher ? core_->decode_batcher->stats() : DecodeBatchStats{};
  out.Set("batchedDecodePasses", Napi::Number::New(env, double(batches.passes)));
  out.Set("batchedDecodeRows", Napi::Number::New(env, double(batches.rows)));
  out.Set("largestDecodeBatch", Napi::Number::New(env, double(batches.largest)));
  out.Set("device", Napi::Number::New(env, core_->options.device));
  const DeviceMemory memory = core_->forward ? core_->forward->memory() : DeviceMemory{};
  Napi::Object device_memory = Napi::Object::New(env);
  device_memory.Set("weights", Napi::Number::New(env, double(memory.weights)));
  device_memory.Set("kvMirror", Napi::Number::New(env, double(memory.kv_mirror)));
  device_memory.Set("scratch", Napi::Number::New(env, double(memory.scratch)));
  out.Set("deviceMemory", device_memory);
  return out;
}

Napi::Value RuntimeHandle::dispose(const Napi::CallbackInfo& info) {
  core_->shutdown();
  return info.Env().Undefined();
}

}  // namespace presskv::addon
