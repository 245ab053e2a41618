#include "addon/js-reply.h"

#include "core/errors.h"

namespace presskv::addon {

Napi::Error to_js_error(Napi::Env env, std::exception_ptr error) {
  std::string code = "ERR_INTERNAL";
  std::string message = "unknown native error";
  try {
    std::rethrow_exception(error);
  } catch (const EngineError& e) {
    code = error_code_name(e.code());
    message = e.what();
  } catch (const std::bad_alloc&) {
    code = "ERR_OUT_OF_MEMORY";
    message = "out of memory";
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
  }
  Napi::Error js = Napi::Error::New(env, message);
  js.Value().Set("code", Napi::String::New(env, code));
  return js;
}

struct JsReply::Context {
  Napi::Promise::Deferred deferred;
  Napi::FunctionReference on_token;
  Napi::ObjectReference kept;
  Napi::FunctionReference on_progress;
};

struct JsReply::Message {
  enum Kind { Token, Resolve, ResolveKept, Reject, Progress } kind;
  int32_t token = 0;
  MakeValue make;
  std::exception_ptr error;
  double done = 0, total = 0;
  const char* unit = "";
  double elapsed_ms = 0;
};

JsReply::JsReply(Napi::Env env, Napi::Function on_token) {
  auto* context = new Context{Napi::Promise::Deferred::New(env), Napi::FunctionReference(), Napi::ObjectReference()};
  if (!on_token.IsEmpty()) context->on_token = Napi::Persistent(on_token);
  promise_ = context->deferred.Promise();
  tsfn_ = Tsfn::New(env, "presskv-job", 0, 1, context, finalize, static_cast<void*>(nullptr));
}

JsReply::~JsReply() {
  // A job dropped without settling (should not happen) must still let the event loop go.
  if (!settled_.exchange(true)) {
    auto* message = new Message{Message::Reject, 0, nullptr,
                                std::make_exception_ptr(EngineError(ErrorCode::Internal, "job dropped without a result"))};
    if (tsfn_.NonBlockingCall(message) != napi_ok) delete message;
    tsfn_.Release();
  }
}

void JsReply::finalize(Napi::Env, void*, Context* context) { delete context; }

void JsReply::keep_alive(Napi::Object value) {
  Context* context = tsfn_.GetContext();
  context->kept = Napi::Persistent(value);
}

void JsReply::set_progress(Napi::Function on_progress, double interval_ms) {
  tsfn_.GetContext()->on_progress = Napi::Persistent(on_progress);
  progress_interval_ms_ = interval_ms;
  has_progress_ = true;
}

void JsReply::call_js(Napi::Env env, Napi::Function, Context* context, Message* message) {
  if (env == nullptr) {  // the environment is going away; nothing can be delivered
    delete message;
    return;
  }
  Napi::HandleScope scope(env);
  try {
    switch (message->kind) {
      case Message::Token:
        if (!context->on_token.IsEmpty()) context->on_token.Call({Napi::Number::New(env, message->token)});
        break;
      case Message::Resolve:
        context->deferred.Resolve(message->make(env));
        break;
      case Message::ResolveKept:
        context->deferred.Resolve(context->kept.IsEmpty() ? env.Undefined() : context->kept.Value());
        break;
      case Message::Reject:
        context->deferred.Reject(to_js_error(env, message->error).Value());
        break;
      case Message::Progress:
        if (!context->on_progress.IsEmpty())
          context->on_progress.Call({Napi::Number::New(env, message->done), Napi::Number::New(env, message->total),
                                     Napi::String::New(env, message->unit), Napi::Number::New(env, message->elapsed_ms)});
        break;
    }
  } catch (const Napi::Error& e) {
    // A throwing onToken / onProgress callback must not take down the job; a failure building the result rejects.
    if (message->kind == Message::Resolve) context->deferred.Reject(e.Value());
  }
  delete message;
}

void JsReply::token(int32_t id) {
  if (settled_.load()) return;
  auto* message = new Message{Message::Token, id, nullptr, nullptr};
  if (tsfn_.NonBlockingCall(message) != napi_ok) delete message;
}

void JsReply::progress(double done, double total, const char* unit, double elapsed_ms) {
  if (!has_progress_ || settled_.load()) return;
  {
    std::lock_guard<std::mutex> lock(progress_mutex_);
    const auto now = std::chrono::steady_clock::now();
    const bool last = done >= total;
    if (!last && progress_sent_ &&
        std::chrono::duration<double, std::milli>(now - last_progress_).count() < progress_interval_ms_)
      return;
    progress_sent_ = true;
    last_progress_ = now;
  }
  auto* message = new Message{Message::Progress, 0, nullptr, nullptr, done, total, unit, elapsed_ms};
  if (tsfn_.NonBlockingCall(message) != napi_ok) delete message;
}

void JsReply::settle(Message* message) {
  if (settled_.exchange(true)) {
    delete message;
    return;
  }
  if (tsfn_.NonBlockingCall(message) != napi_ok) delete message;
  tsfn_.Release();
}

void JsReply::resolve(MakeValue make) { settle(new Message{Message::Resolve, 0, std::move(make), nullptr}); }

void JsReply::resolve_with_kept() { settle(new Message{Message::ResolveKept, 0, nullptr, nullptr}); }

void JsReply::reject(std::exception_ptr error) { settle(new Message{Message::Reject, 0, nullptr, error}); }

}  // namespace presskv::addon
