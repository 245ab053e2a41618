#pragma once
// JS handle of one sequence (its own KV cache) on a runtime. Every method that touches the cache is a
// job on the runtime's worker and returns a Promise; kvStats() reads the last published figures.
#include <napi.h>

#include <memory>

#include "addon/runtime-core.h"
#include "addon/session-state.h"

namespace presskv::addon {

class SessionHandle : public Napi::ObjectWrap<SessionHandle> {
 public:
  static Napi::Function define_class(Napi::Env env);
  // Called by Runtime.createSession: new Session(runtime, {maxTokens}); by fork(): new Session(External<Seed>).
  explicit SessionHandle(const Napi::CallbackInfo& info);

  // What a forked child starts from: its runtime and the (still empty) state the ForkJob fills.
  struct Seed {
    std::shared_ptr<RuntimeCore> runtime;
    std::shared_ptr<SessionState> state;
    int32_t max_tokens = 0;
  };

 private:
  Napi::Value evaluate(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);
  Napi::Value sample(const Napi::CallbackInfo& info);
  Napi::Value abort(const Napi::CallbackInfo& info);
  Napi::Value kv_stats(const Napi::CallbackInfo& info);
  Napi::Value truncate(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value fork(const Napi::CallbackInfo& info);
  Napi::Value save_kv(const Napi::CallbackInfo& info);
  Napi::Value load_kv(const Napi::CallbackInfo& info);
  Napi::Value prefill_context(const Napi::CallbackInfo& info);
  Napi::Value max_tokens(const Napi::CallbackInfo& info);

  void require_live(Napi::Env env) const;
  void check_token_ids(Napi::Env env, const std::vector<int32_t>& ids, const char* what) const;

  std::shared_ptr<RuntimeCore> runtime_;
  std::shared_ptr<SessionState> state_;
  int32_t max_tokens_ = 0;
  bool disposed_ = false;
};

// The constructors registered for this env, so C++ can create JS handles.
struct AddonClasses {
  Napi::FunctionReference runtime;
  Napi::FunctionReference session;
};
AddonClasses& addon_classes(Napi::Env env);

}  // namespace presskv::addon
