#include "addon/session-press-job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

#include "addon/prefill-stats.h"
#include "addon/press-config-js.h"
#include "core/errors.h"
#include "kv/paged-kv-cache.h"
#include "model/weights.h"
#include "press/context-prefill.h"

namespace presskv::addon {
namespace {

[[noreturn]] void bad(const std::string& message) { throw EngineError(ErrorCode::InvalidArgument, message); }

// CustomScorerPress's score(layer) for a press running on the worker thread: each call is handed to the
// JS thread and the worker waits for the scores.
class WorkerJsScorer : public press::ExternalScorer {
 public:
  WorkerJsScorer(Napi::Env env, Napi::Function fn) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, fn, "presskv custom scorer", 0, 1);
    tsfn_.Unref(env);  // an idle scorer must not keep the process alive
  }
  ~WorkerJsScorer() override { tsfn_.Release(); }

  void score(const press::LayerView& v, const std::vector<float>& window_queries, int32_t window,
             std::vector<float>& scores) override {
    Call call{&v, &window_queries, window};
    const napi_status status = tsfn_.BlockingCall(&call, [](Napi::Env env, Napi::Function fn, Call* c) {
      try {
        if (static_cast<napi_env>(env) == nullptr) throw EngineError(ErrorCode::Aborted, "the JS environment is shutting down");
        c->run(env, fn);
      } catch (const Napi::Error& e) {
        c->error = "CustomScorerPress: score() threw: " + e.Message();
      } catch (const std::exception& e) {
        c->error = e.what();
      }
      std::lock_guard<std::mutex> lock(c->mutex);
      c->done = true;
      c->cv.notify_one();
    });
    if (status != napi_ok) throw EngineError(ErrorCode::Internal, "CustomScorerPress: the JS thread is gone");
    std::unique_lock<std::mutex> lock(call.mutex);
    call.cv.wait(lock, [&] { return call.done; });
    if (!call.error.empty()) bad(call.error);
    scores = std::move(call.out);
  }

 private:
  struct Call {
    const press::LayerView* v;
    const std::vector<float>* window_queries;
    int32_t window;
    std::vector<float> out;
    std::string error;
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;

    void run(Napi::Env env, Napi::Function fn) {
      out = scores_from_js(fn.Call({scorer_layer_object(env, *v, *window_queries, window)}));
    }
  };

  Napi::ThreadSafeFunction tsfn_;
};

// The JS configs of `config`'s children, in the order parse_press_config appends them
// (options.press, press, presses[]).
std::vector<Napi::Value> child_values(const Napi::Object& obj) {
  std::vector<Napi::Value> out;
  Napi::Value options = obj.Get("options");
  if (options.IsObject() && !options.IsArray()) {
    Napi::Value inner = options.As<Napi::Object>().Get("press");
    if (inner.IsObject() && !inner.IsArray()) out.push_back(inner);
  }
  Napi::Value inner = obj.Get("press");
  if (!inner.IsUndefined() && !inner.IsNull()) out.push_back(inner);
  Napi::Value list = obj.Get("presses");
  if (list.IsArray()) {
    Napi::Array arr = list.As<Napi::Array>();
    for (uint32_t j = 0; j < arr.Length(); ++j) out.push_back(arr.Get(j));
  }
  return out;
}

void use_worker_scorers(Napi::Env env, const Napi::Value& value, press::PressConfig& config) {
  if (!value.IsObject()) return;
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value score = obj.Get("score");
  if (config.external_scorer && score.IsFunction())
    config.external_scorer = std::make_shared<WorkerJsScorer>(env, score.As<Napi::Function>());
  const std::vector<Napi::Value> children = child_values(obj);
  if (children.size() != config.children.size()) return;
  for (size_t i = 0; i < children.size(); ++i) use_worker_scorers(env, children[i], config.children[i]);
}

bool any_js_scorer_left(const press::PressConfig& config) {
  if (config.external_scorer && !std::dynamic_pointer_cast<WorkerJsScorer>(config.external_scorer)) return true;
  for (const auto& child : config.children)
    if (any_js_scorer_left(child)) return true;
  return false;
}

}  // namespace

press::PressConfig parse_worker_press_config(Napi::Env env, Napi::Value value) {
  press::PressConfig config = parse_press_config(value);
  use_worker_scorers(env, value, config);
  // A scorer bound to the JS thread would be called from the worker: refuse rather than crash.
  if (any_js_scorer_left(config)) bad("CustomScorerPress: could not bind score() for the worker thread");
  return config;
}

PrefillContextJob::PrefillContextJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state,
                                     std::unique_ptr<JsReply> reply, std::vector<int32_t> tokens,
                                     std::shared_ptr<press::PressPipeline> pipeline)
    : SessionJob(runtime, std::move(state), std::move(reply)),
      tokens_(std::move(tokens)),
      pipeline_(std::move(pipeline)) {}

bool PrefillContextJob::step() {
  const auto t0 = std::chrono::steady_clock::now();
  begin();
  if (state_->logical_tokens() != 0)
    bad("prefillContext needs an empty session (it holds " + std::to_string(state_->logical_tokens()) +
        " tokens): a press compresses the context from its first token");
  if (tokens_.empty()) bad("prefillContext: the context is empty");
  require_room(tokens_.size());
  check_aborted();
  if (!runtime_->forward) bad("the runtime has been disposed");
  const int32_t n = int32_t(tokens_.size());
  if (pipeline_) pipeline_->validate(n);

  EvalOptions options;
  options.logits = LogitsMode::Last;
  options.chunk_size = runtime_->options.prefill_chunk;
  options.abort = &aborted;
  std::vector<float> logits;
  JsReply* reply = reply_.get();
  press::prefill_context(*runtime_->forward, *state_->cache, tokens_, options, pipeline_.get(), loaded(*runtime_->model),
                         *runtime_->pool, logits,
                         [reply, t0](int64_t done, int64_t total) {
                           const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                           reply->progress(double(done), double(total), "layers", ms);
                         });
  const PrefillStats stats = prefill_stats(*state_->cache, n, pipeline_.get());
  state_->history = tokens_;
  state_->last_logits = std::move(logits);
  if (pipeline_ && pipeline_->acts_during_decoding()) state_->decoding_press = pipeline_;

  const double next_position = state_->cache->next_position();
  state_->publish();
  const double prefill_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  reply_->resolve([=](Napi::Env env) {
    Napi::Object out = stats.to_js(env);
    out.Set("prefillMs", Napi::Number::New(env, prefill_ms));
    out.Set("nextPosition", Napi::Number::New(env, next_position));
    return out;
  });
  return true;
}

}  // namespace presskv::addon
