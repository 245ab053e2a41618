#pragma once
// JS handle of a runtime: one worker thread + kernel pool + forward pass + KV pool for one model.
// createRuntime(modelHandle, {threads, kvBudgetBytes, kvDtype, pageTokens, prefillChunk}) → Runtime.
#include <napi.h>

#include <memory>

#include "addon/runtime-core.h"

namespace presskv::addon {

class RuntimeHandle : public Napi::ObjectWrap<RuntimeHandle> {
 public:
  static Napi::Function define_class(Napi::Env env);
  // Throws ERR_INVALID_ARGUMENT unless value is a live Runtime.
  static RuntimeHandle* from(Napi::Value value);

  explicit RuntimeHandle(const Napi::CallbackInfo& info);
  ~RuntimeHandle() override;

  const std::shared_ptr<RuntimeCore>& core() const { return core_; }

 private:
  Napi::Value create_session(const Napi::CallbackInfo& info);
  Napi::Value set_vocabulary(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<RuntimeCore> core_;
};

}  // namespace presskv::addon
