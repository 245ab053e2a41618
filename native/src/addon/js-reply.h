#pragma once
// The way a job running on the worker thread talks back to JS: a Promise settled once, plus an optional
// per-token callback and an optional progress callback, all delivered on the JS thread, in order, through
// one ThreadSafeFunction. The worker never waits for JS (the queue is unbounded and calls are non-blocking).
#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
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
  // JS thread, before the job is submitted: progress() reports reach on_progress(done, total, unit, elapsedMs), at most
  // one per interval_ms (the first report and the one with done == total always do).
  void set_progress(Napi::Function on_progress, double interval_ms);

  // Any thread. token() and progress() are ignored after the reply has settled, progress() also without
  // set_progress; both cost nothing then. unit: a string literal ("tokens", "layers"); elapsed_ms: how long
  // the prefill has run so far (as the job reports its prefillMs).
  void token(int32_t id);
  void progress(double done, double total, const char* unit, double elapsed_ms);
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
  bool has_progress_ = false;
  double progress_interval_ms_ = 0;
  std::mutex progress_mutex_;
  bool progress_sent_ = false;
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace presskv::addon
