#pragma once
// The JS handle of a loaded model (loadModel → ModelHandle). Other handles (sessions) take a ModelHandle
// argument and reach the shared Model and its thread pool through the accessors below.
#include <napi.h>

#include <memory>

#include "core/thread-pool.h"
#include "model/model.h"

namespace presskv::addon {

class ModelHandle : public Napi::ObjectWrap<ModelHandle> {
 public:
  static Napi::Function define_class(Napi::Env env);
  // Type-checked unwrap: throws a JS error with code ERR_INVALID_ARGUMENT when value is not a live
  // ModelHandle (wrong type, or already disposed).
  static ModelHandle* from(Napi::Value value);

  explicit ModelHandle(const Napi::CallbackInfo& info);

  // The loaded model; null after dispose() (from() refuses disposed handles, so callers that went
  // through from() always get a model).
  std::shared_ptr<Model> model() const { return model_; }
  // Threads requested at load (options.threads, default: hardware concurrency).
  int threads() const { return threads_; }
  // The pool kernels of this model run on; created lazily, shared by every user of the handle.
  std::shared_ptr<ThreadPool> thread_pool();
  bool disposed() const { return !model_; }

 private:
  Napi::Value weight_bytes(const Napi::CallbackInfo& info);
  Napi::Value fingerprint(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value eval_logits(const Napi::CallbackInfo& info);
  Model& live_model(Napi::Env env);

  std::shared_ptr<Model> model_;
  std::shared_ptr<ThreadPool> pool_;
  int threads_ = 1;
};

}  // namespace presskv::addon
