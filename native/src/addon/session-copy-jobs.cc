#include "addon/session-copy-jobs.h"

#include "addon/session-snapshot.h"
#include "core/errors.h"
#include "kv/paged-kv-cache.h"
#include "press/pipeline.h"

namespace presskv::addon {
namespace {

void require_cache(const SessionState& state) {
  if (!state.cache) throw EngineError(ErrorCode::InvalidArgument, "the session has been disposed");
}

}  // namespace

// ---- ForkJob ------------------------------------------------------------------------------------

ForkJob::ForkJob(RuntimeCore* runtime, std::shared_ptr<SessionState> parent, std::unique_ptr<JsReply> reply,
                 std::shared_ptr<SessionState> child)
    : SessionJob(runtime, std::move(parent), std::move(reply)), child_(std::move(child)) {}

bool ForkJob::step() {
  require_cache(*state_);
  check_aborted();
  child_->cache = paged(*state_->cache).fork();
  child_->history = state_->history;
  child_->pending = state_->pending;
  child_->last_logits = state_->last_logits;
  if (state_->decoding_press) child_->decoding_press = state_->decoding_press->fork();
  child_->publish();
  state_->publish();  // the parent's pages are shared from now on
  reply_->resolve_with_kept();
  return true;
}

// ---- SaveKvJob ----------------------------------------------------------------------------------

SaveKvJob::SaveKvJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply)
    : SessionJob(runtime, std::move(state), std::move(reply)) {}

bool SaveKvJob::step() {
  require_cache(*state_);
  check_aborted();
  // A shared_ptr so the (copyable) reply callback can hand the buffer over without copying it.
  auto bytes = std::make_shared<std::vector<uint8_t>>(save_session(*state_, runtime_->vocab));
  reply_->resolve([bytes](Napi::Env env) -> Napi::Value {
    auto* owned = new std::vector<uint8_t>(std::move(*bytes));
    const size_t size = owned->size();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, owned->data(), size, [](Napi::Env, void*, std::vector<uint8_t>* v) { delete v; }, owned);
    return Napi::Uint8Array::New(env, size, buffer, 0);
  });
  return true;
}

// ---- LoadKvJob ----------------------------------------------------------------------------------

LoadKvJob::LoadKvJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                     const uint8_t* data, size_t size)
    : SessionJob(runtime, std::move(state), std::move(reply)), data_(data), size_(size) {}

bool LoadKvJob::step() {
  require_cache(*state_);
  check_aborted();
  const PagedKvCache& current = paged(*state_->cache);
  KvCacheOptions options;
  options.dtype = current.dtype();
  options.page_tokens = current.page_tokens();
  options.max_tokens = current.max_tokens();
  // Built aside and swapped in only when complete: a bad payload leaves the session as it was.
  LoadedSession loaded = load_session(data_, size_, runtime_->model->config(), runtime_->kv_pool, options);
  state_->cache = std::move(loaded.cache);
  state_->history = std::move(loaded.history);
  state_->pending = std::move(loaded.pending);
  state_->last_logits = std::move(loaded.last_logits);
  state_->publish();
  reply_->resolve([](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  return true;
}

}  // namespace presskv::addon
