#include "addon/session-handle.h"

#include <map>
#include <mutex>

#include "addon/js-options.h"
#include "addon/js-reply.h"
#include "addon/registry.h"
#include "addon/runtime-handle.h"
#include "addon/sampler-binding.h"
#include "addon/session-copy-jobs.h"
#include "addon/session-jobs.h"
#include "addon/session-press-job.h"
#include "core/errors.h"

namespace presskv::addon {

// ---- per-env class registry ---------------------------------------------------------------------

namespace {
std::mutex classes_mutex;
std::map<napi_env, AddonClasses*> classes_by_env;
}  // namespace

AddonClasses& addon_classes(Napi::Env env) {
  std::lock_guard<std::mutex> lock(classes_mutex);
  auto it = classes_by_env.find(env);
  if (it == classes_by_env.end()) {
    auto* classes = new AddonClasses();
    it = classes_by_env.emplace(env, classes).first;
    env.AddCleanupHook([env] {
      std::lock_guard<std::mutex> lock(classes_mutex);
      auto found = classes_by_env.find(env);
      if (found != classes_by_env.end()) {
        delete found->second;
        classes_by_env.erase(found);
      }
    });
  }
  return *it->second;
}

// ---- Session ------------------------------------------------------------------------------------

Napi::Function SessionHandle::define_class(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceMethod<&SessionHandle::evaluate>("evaluate"),
                         InstanceMethod<&SessionHandle::generate>("generate"),
                         InstanceMethod<&SessionHandle::sample>("sample"),
                         InstanceMethod<&SessionHandle::abort>("abort"),
                         InstanceMethod<&SessionHandle::kv_stats>("kvStats"),
                         InstanceMethod<&SessionHandle::truncate>("truncate"),
                         InstanceMethod<&SessionHandle::dispose>("dispose"),
                         InstanceMethod<&SessionHandle::fork>("fork"),
                         InstanceMethod<&SessionHandle::save_kv>("saveKv"),
                         InstanceMethod<&SessionHandle::load_kv>("loadKv"),
                         InstanceMethod<&SessionHandle::prefill_context>("prefillContext"),
                         InstanceAccessor<&SessionHandle::max_tokens>("maxTokens"),
                     });
}

SessionHandle::SessionHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionHandle>(info) {
  Napi::Env env = info.Env();
  if (info[0].IsExternal()) {
    const Seed& seed = *info[0].As<Napi::External<Seed>>().Data();
    runtime_ = seed.runtime;
    state_ = seed.state;
    max_tokens_ = seed.max_tokens;
    return;
  }
  runtime_ = RuntimeHandle::from(info[0])->core();
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  const int32_t model_context = runtime_->model->config().context_length;
  KvCacheOptions options;
  options.dtype = runtime_->options.kv_dtype;
  options.page_tokens = runtime_->options.page_tokens;
  options.max_tokens = read_int(env, o, "maxTokens", model_context > 0 ? model_context : 4096, 1, 1 << 24);
  state_ = std::make_shared<SessionState>();
  try {
    state_->cache = KvCache::create(runtime_->model->config(), runtime_->kv_pool, options);
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
  max_tokens_ = state_->cache->max_tokens();
  state_->publish();
}

namespace {
// { onProgress?: (done, total, unit) => void, progressIntervalMs?: number ≥ 0 (default 100) } of a job's
// options, read (and checked) before the job's reply exists, applied to it with apply().
struct ProgressOption {
  Napi::Function fn;
  double interval_ms = 100;
  void apply(JsReply& reply) const {
    if (!fn.IsEmpty()) reply.set_progress(fn, interval_ms);
  }
};

ProgressOption read_progress(Napi::Env env, const Napi::Value& options) {
  ProgressOption out;
  if (!options.IsObject()) return out;
  Napi::Object o = options.As<Napi::Object>();
  Napi::Value fn = o.Get("onProgress");
  if (fn.IsUndefined() || fn.IsNull()) return out;
  if (!fn.IsFunction()) throw_invalid(env, "onProgress must be a function");
  Napi::Value ms = o.Get("progressIntervalMs");
  if (!ms.IsUndefined()) {
    if (!ms.IsNumber() || !(ms.As<Napi::Number>().DoubleValue() >= 0))
      throw_invalid(env, "progressIntervalMs must be a number >= 0");
    out.interval_ms = ms.As<Napi::Number>().DoubleValue();
  }
  out.fn = fn.As<Napi::Function>();
  return out;
}
}  // namespace

void SessionHandle::require_live(Napi::Env env) const {
  if (disposed_) throw_invalid(env, "the session has been disposed");
  if (runtime_->is_shut_down()) throw_invalid(env, "the runtime has been disposed");
}

void SessionHandle::check_token_ids(Napi::Env env, const std::vector<int32_t>& ids, const char* what) const {
  for (size_t i = 0; i < ids.size(); i++)
    if (ids[i] < 0 || ids[i] >= runtime_->vocab)
      throw_invalid(env, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                             " is outside the vocabulary [0, " + std::to_string(runtime_->vocab) + ")");
}

Napi::Value SessionHandle::evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  auto tokens = read_token_ids(env, info[0], "tokens");
  check_token_ids(env, tokens, "tokens");
  LogitsRequest logits = LogitsRequest::None;
  if (info[1].IsObject() && has_field(info[1].As<Napi::Object>(), "logits")) {
    const std::string mode = info[1].As<Napi::Object>().Get("logits").ToString().Utf8Value();
    if (mode == "last")
      logits = LogitsRequest::Last;
    else if (mode == "all")
      logits = LogitsRequest::All;
    else if (mode != "none")
      throw_invalid(env, "logits must be 'none', 'last' or 'all', got '" + mode + "'");
  }
  const ProgressOption progress = read_progress(env, info[1]);
  auto reply = std::make_unique<JsReply>(env);
  progress.apply(*reply);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(
      std::make_shared<EvaluateJob>(runtime_.get(), state_, std::move(reply), std::move(tokens), logits));
  return promise;
}

Napi::Value SessionHandle::generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  if (!info[0].IsObject()) throw_invalid(env, "generate() needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  GenerateRequest request;
  request.sampling = read_sampling(env, o.Get("sampling"));
  request.max_tokens = read_int(env, o, "maxTokens", 0, 0, INT32_MAX);
  if (has_field(o, "stopTokenIds")) request.stop_token_ids = read_token_ids(env, o.Get("stopTokenIds"), "stopTokenIds");
  request.stop_sequences = read_byte_strings(env, o.Get("stopSequences"), "stopSequences");
  for (const auto& s : request.stop_sequences)
    if (s.empty()) throw_invalid(env, "stopSequences must not contain an empty string");
  if (has_field(o, "promptTokens")) request.prompt = read_token_ids(env, o.Get("promptTokens"), "promptTokens");
  check_token_ids(env, request.prompt, "promptTokens");
  auto vocabulary = runtime_->vocabulary();
  if (!request.stop_sequences.empty() && !vocabulary)
    throw_invalid(env, "stop sequences need the token bytes: call runtime.setVocabulary() first");
  Napi::Function on_token;
  if (info.Length() > 1 && info[1].IsFunction()) on_token = info[1].As<Napi::Function>();
  else if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) throw_invalid(env, "onToken must be a function");
  std::shared_ptr<GenerateJob> job;
  const ProgressOption progress = read_progress(env, o);
  auto reply = std::make_unique<JsReply>(env, on_token);
  progress.apply(*reply);
  Napi::Promise promise = reply->promise();
  try {
    job = std::make_shared<GenerateJob>(runtime_.get(), state_, std::move(reply), std::move(request), vocabulary);
  } catch (...) {
    throw_as_js(env, std::current_exception());
  }
  runtime_->scheduler->submit(job);
  return promise;
}

Napi::Value SessionHandle::sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  Napi::Object o = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  SamplingParams sampling = read_sampling(env, o.Get("sampling"));
  std::optional<std::vector<int32_t>> allowed;
  if (has_field(o, "allowedTokenIds")) {
    allowed = read_token_ids(env, o.Get("allowedTokenIds"), "allowedTokenIds");
    check_token_ids(env, *allowed, "allowedTokenIds");
    if (allowed->empty()) throw_invalid(env, "allowedTokenIds is empty: there is no token to sample");
  }
  auto reply = std::make_unique<JsReply>(env);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(
      std::make_shared<SampleJob>(runtime_.get(), state_, std::move(reply), sampling, std::move(allowed)));
  return promise;
}

Napi::Value SessionHandle::abort(const Napi::CallbackInfo& info) {
  runtime_->scheduler->abort_lane(state_.get());
  return info.Env().Undefined();
}

Napi::Value SessionHandle::kv_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("tokens", Napi::Number::New(env, double(state_->published_tokens.load())));
  out.Set("bytes", Napi::Number::New(env, double(state_->published_bytes.load())));
  out.Set("sharedBytes", Napi::Number::New(env, double(state_->published_shared_bytes.load())));
  std::lock_guard<std::mutex> lock(state_->lengths_mutex);
  Napi::Array lengths = Napi::Array::New(env, state_->published_lengths.size());
  for (size_t i = 0; i < state_->published_lengths.size(); ++i) lengths.Set(uint32_t(i), Napi::Number::New(env, state_->published_lengths[i]));
  out.Set("lengths", lengths);
  return out;
}

Napi::Value SessionHandle::truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  if (!info[0].IsNumber()) throw_invalid(env, "truncate(n) needs a token count");
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 0) || n != double(int64_t(n))) throw_invalid(env, "truncate(n): n must be an integer >= 0");
  auto reply = std::make_unique<JsReply>(env);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(std::make_shared<TruncateJob>(runtime_.get(), state_, std::move(reply), int64_t(n)));
  return promise;
}

Napi::Value SessionHandle::dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_ || runtime_->is_shut_down()) {
    // No worker will run a job: the state (and its cache) is ours alone now.
    disposed_ = true;
    state_->cache.reset();
    state_->publish();
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  disposed_ = true;
  runtime_->scheduler->abort_lane(state_.get());
  auto reply = std::make_unique<JsReply>(env);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(std::make_shared<DisposeJob>(runtime_.get(), state_, std::move(reply)));
  return promise;
}

Napi::Value SessionHandle::fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  auto seed = std::make_unique<Seed>(Seed{runtime_, std::make_shared<SessionState>(), max_tokens_});
  auto child_state = seed->state;
  // The child's JS object exists now but reaches the caller only once the ForkJob has filled its state.
  Napi::External<Seed> external =
      Napi::External<Seed>::New(env, seed.release(), [](Napi::Env, Seed* s) { delete s; });
  Napi::Object child = addon_classes(env).session.New({external});
  auto reply = std::make_unique<JsReply>(env);
  reply->keep_alive(child);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(std::make_shared<ForkJob>(runtime_.get(), state_, std::move(reply), std::move(child_state)));
  return promise;
}

Napi::Value SessionHandle::save_kv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  auto reply = std::make_unique<JsReply>(env);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(std::make_shared<SaveKvJob>(runtime_.get(), state_, std::move(reply)));
  return promise;
}

Napi::Value SessionHandle::load_kv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_invalid(env, "loadKv(bytes) needs a Uint8Array (from saveKv)");
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  auto reply = std::make_unique<JsReply>(env);
  // The worker reads the caller's bytes in place (no copy on the JS thread); the reply keeps them alive.
  reply->keep_alive(bytes);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(
      std::make_shared<LoadKvJob>(runtime_.get(), state_, std::move(reply), bytes.Data(), bytes.ByteLength()));
  return promise;
}

Napi::Value SessionHandle::max_tokens(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), max_tokens_);
}

// ---- registration -------------------------------------------------------------------------------

void register_session(Napi::Env env, Napi::Object exports) {
  AddonClasses& classes = addon_classes(env);
  Napi::Function runtime = RuntimeHandle::define_class(env);
  Napi::Function session = SessionHandle::define_class(env);
  classes.runtime = Napi::Persistent(runtime);
  classes.session = Napi::Persistent(session);
  exports.Set("Runtime", runtime);
  exports.Set("Session", session);
  exports.Set("createRuntime", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                return addon_classes(env).runtime.New({info[0], info.Length() > 1 ? info[1] : env.Undefined()});
              }, "createRuntime"));
  register_sampler(env, exports);
}

}  // namespace presskv::addon

namespace presskv::addon {

// prefillContext(contextTokens, pressConfig | null, { onProgress?, progressIntervalMs? }) → compression stats
// (session-press-job.h). The press
// config is parsed and checked here, on the JS thread, so a bad config fails before the job is queued.
Napi::Value SessionHandle::prefill_context(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env);
  auto tokens = read_token_ids(env, info[0], "contextTokens");
  check_token_ids(env, tokens, "contextTokens");
  if (tokens.empty()) throw_invalid(env, "prefillContext: the context is empty");
  std::shared_ptr<press::PressPipeline> pipeline;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) {
    try {
      const ModelConfig& mc = runtime_->model->config();
      press::PressConfig config = parse_worker_press_config(env, info[1]);
      pipeline = std::make_shared<press::PressPipeline>(config, mc);
      pipeline->validate(int32_t(tokens.size()));
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      throw_as_js(env, std::current_exception());
    }
  }
  const ProgressOption progress = read_progress(env, info.Length() > 2 ? info[2] : env.Undefined());
  auto reply = std::make_unique<JsReply>(env);
  progress.apply(*reply);
  Napi::Promise promise = reply->promise();
  runtime_->scheduler->submit(std::make_shared<PrefillContextJob>(runtime_.get(), state_, std::move(reply),
                                                                  std::move(tokens), std::move(pipeline)));
  return promise;
}

}  // namespace presskv::addon
