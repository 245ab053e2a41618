#pragma once
// The way a job running on the worker thread talks back to JS: a Promise settled once, plus an optional
// per-token callback, both delivered on the JS thread through one ThreadSafeFunction. The worker never
// waits for JS (the queue is unbounded and calls are non-blocking).
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

namespace presskv::addon {

// Builds a JS error whose `code` is the EngineError's code (ERR_INTERNAL for anything else).
Napi::Error to_js_error(Napi::Env env, std::exception_ptr error);

class JsReply {
 public:
  using MakeValue = std::function<Napi::Value(Napi::Env)>;

  // JS thread. on_token may be empty.
  JsReply(Napi::Env env, Napi::Function on_token = Napi::Function());
  ~JsReply();
  JsReply(const JsReply&) = delete;
  JsReply& operator=(const JsReply&) = delete;

  Napi::Promise promise() const { return promise_; }
  // JS thread, before the job is submitted: keeps `value` (e.g. an input buffer the worker reads) alive
  // until the reply is settled and delivered; released on the JS thread.
  void keep_alive(Napi::Object value);

  // Any thread. token() is ignored after the reply has settled.
  void token(int32_t id);
  void resolve(MakeValue make);
  // Resolves with the object given to keep_alive (built on the JS thread before the job ran).
  void resolve_with_kept();
  void reject(std::exception_ptr error);
  bool settled() const { return settled_.load(); }

 private:
  struct Context;
  struct Message;
  static void call_js(Napi::Env env, Napi::Function, Context* context, Message* message);
  static void finalize(Napi::Env, void*, Context* context);
  using Tsfn = Napi::TypedThreadSafeFunction<Context, Message, call_js>;
  void settle(Message* message);

  Tsfn tsfn_;
  Napi::Promise promise_;
  std::atomic<bool> settled_{false};
};

}  // namespace presskv::addon
