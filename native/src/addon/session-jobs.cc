#include "addon/session-jobs.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "model/weights.h"
#include "press/forward-hook.h"

namespace presskv::addon {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<int32_t> concat(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> out;
  out.reserve(a.size() + b.size());
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Napi::Value to_float32_array(Napi::Env env, const std::vector<float>& values) {
  auto array = Napi::Float32Array::New(env, values.size());
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(float));
  return array;
}

}  // namespace

// ---- SessionJob ---------------------------------------------------------------------------------

SessionJob::SessionJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply)
    : runtime_(runtime), state_(std::move(state)), reply_(std::move(reply)) {
  lane = state_.get();
}

void SessionJob::begin() {
  if (!state_->cache) throw EngineError(ErrorCode::InvalidArgument, "the session has been disposed");
  started_ = true;
  start_position_ = size_t(state_->cache->next_position());
  start_history_ = state_->history.size();
  start_pending_ = state_->pending;
  start_logits_ = state_->last_logits;
}

void SessionJob::rollback() {
  if (!started_ || !state_->cache) return;
  state_->cache->truncate(int32_t(start_position_));
  state_->history.resize(std::min(state_->history.size(), start_history_));
  state_->pending = start_pending_;
  state_->last_logits = start_logits_;
}

void SessionJob::fail(std::exception_ptr error) {
  try {
    rollback();
  } catch (...) {
    // The original error is what the caller needs to see.
  }
  state_->publish();
  reply_->reject(error);
}

void SessionJob::check_aborted() const {
  if (aborted.load()) throw EngineError(ErrorCode::Aborted, "the operation was aborted");
}

void SessionJob::require_room(size_t n_tokens) const {
  const size_t used = size_t(state_->cache->next_position());
  const size_t limit = size_t(state_->cache->max_tokens());
  if (used + n_tokens > limit)
    throw EngineError(ErrorCode::ContextOverflow,
                      std::to_string(n_tokens) + " new tokens + " + std::to_string(used) +
                          " already in the sequence exceed its context window of " + std::to_string(limit) + " tokens");
}

void SessionJob::eval(const int32_t* tokens, int32_t n, LogitsMode mode, std::vector<float>& out) {
  if (!runtime_->forward) throw EngineError(ErrorCode::InvalidArgument, "the runtime has been disposed");
  EvalOptions options;
  options.logits = mode;
  options.chunk_size = runtime_->options.prefill_chunk;
  options.abort = &aborted;
  std::unique_ptr<press::ForwardPressHook> decoding_hook;
  if (state_->decoding_press) {
    decoding_hook = std::make_unique<press::ForwardPressHook>(*state_->decoding_press, loaded(*runtime_->model),
                                                              *runtime_->pool, false, n);
    options.press_hook = decoding_hook.get();
  }
  runtime_->forward->eval(*state_->cache, tokens, n, options, out);
  state_->history.insert(state_->history.end(), tokens, tokens + n);
}

void SessionJob::flush_pending() {
  if (state_->pending.empty()) return;
  std::vector<int32_t> tokens;
  tokens.swap(state_->pending);
  require_room(tokens.size());
  eval(tokens.data(), int32_t(tokens.size()), LogitsMode::Last, state_->last_logits);
}

// ---- EvaluateJob --------------------------------------------------------------------------------

EvaluateJob::EvaluateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                         std::vector<int32_t> tokens, LogitsRequest logits)
    : SessionJob(runtime, std::move(state), std::move(reply)), input_(std::move(tokens)), logits_(logits) {}

bool EvaluateJob::step() {
  if (!started_) {
    begin();
    input_ = concat(state_->pending, input_);
    skip_rows_ = state_->pending.size();
    require_room(input_.size());
    if (input_.empty()) {
      std::vector<float> last = logits_ == LogitsRequest::None ? std::vector<float>() : state_->last_logits;
      const bool none = logits_ == LogitsRequest::None || last.empty();
      reply_->resolve([last, none](Napi::Env env) -> Napi::Value {
        return none ? env.Undefined() : to_float32_array(env, last);
      });
      return true;
    }
    state_->pending.clear();
    state_->last_logits.clear();
    started_at_ = Clock::now();
  }
  check_aborted();
  const size_t vocab = size_t(runtime_->vocab);
  const size_t n = std::min(input_.size() - done_, size_t(runtime_->options.prefill_chunk));
  const bool last = done_ + n == input_.size();
  const LogitsMode mode = logits_ == LogitsRequest::All ? LogitsMode::All : last ? LogitsMode::Last : LogitsMode::None;
  std::vector<float> rows;
  eval(input_.data() + done_, int32_t(n), mode, rows);
  if (logits_ == LogitsRequest::All) {
    for (size_t i = 0; i < n; i++)
      if (done_ + i >= skip_rows_) all_rows_.insert(all_rows_.end(), rows.begin() + i * vocab, rows.begin() + (i + 1) * vocab);
  }
  done_ += n;
  if (last) state_->last_logits.assign(rows.end() - vocab, rows.end());
  state_->publish();
  reply_->progress(double(done_), double(input_.size()), "tokens", ms_since(started_at_));
  if (!last) return false;
  if (logits_ == LogitsRequest::None) {
    reply_->resolve([](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  } else {
    std::vector<float> out = logits_ == LogitsRequest::All ? std::move(all_rows_) : state_->last_logits;
    reply_->resolve([out = std::move(out)](Napi::Env env) { return to_float32_array(env, out); });
  }
  return true;
}

// ---- GenerateJob --------------------------------------------------------------------------------

GenerateJob::GenerateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                         GenerateRequest request, std::shared_ptr<const Vocabulary> vocabulary)
    : SessionJob(runtime, std::move(state), std::move(reply)),
      request_(std::move(request)),
      vocabulary_(std::move(vocabulary)),
      sampler_(request_.sampling),
      stops_(request_.stop_sequences) {}

bool GenerateJob::step() {
  try {
    if (!started_) {
      begin();
      input_ = concat(state_->pending, request_.prompt);
      require_room(input_.size());
      if (input_.empty() && state_->last_logits.empty())
        throw EngineError(ErrorCode::InvalidArgument,
                          "nothing to generate from: the sequence is empty and promptTokens has no tokens");
      state_->pending.clear();
      decoding_ = input_.empty();
      // Nothing to prefill: this turn only starts the job, so its first decode step can join a batch.
      if (decoding_) return false;
    }
    if (aborted.load()) return finish("abort");
    return decoding_ ? decode_step() : prefill_step();
  } catch (const EngineError& e) {
    return finish_on_abort(e);
  }
}

// Called from a catch handler: an abort ends the generation normally, anything else is rethrown as is.
bool GenerateJob::finish_on_abort(const EngineError& e) {
  if (e.code() == ErrorCode::Aborted) return finish("abort");
  throw;
}

StepBatcher* GenerateJob::batcher() {
  if (!started_ || !decoding_ || state_->decoding_press) return nullptr;
  return runtime_->decode_batcher.get();
}

std::optional<DecodeRow> GenerateJob::begin_decode() {
  if (aborted.load()) {
    finish("abort");
    return std::nullopt;
  }
  const std::optional<int32_t> token = next_token();
  if (!token) return std::nullopt;
  DecodeRow row;
  row.cache = state_->cache.get();
  row.token = *token;
  row.abort = &aborted;
  row.logits = &state_->last_logits;
  return row;
}

bool GenerateJob::end_decode(const DecodeRow& row) {
  if (row.error) {
    try {
      std::rethrow_exception(row.error);
    } catch (const EngineError& e) {
      return finish_on_abort(e);
    }
  }
  state_->history.push_back(row.token);
  return decoded();
}

bool GenerateJob::prefill_step() {
  const auto t0 = Clock::now();
  const size_t n = std::min(input_.size() - prefilled_, size_t(runtime_->options.prefill_chunk));
  const bool last = prefilled_ + n == input_.size();
  std::vector<float> logits;
  eval(input_.data() + prefilled_, int32_t(n), last ? LogitsMode::Last : LogitsMode::None, logits);
  prefilled_ += n;
  if (last) {
    state_->last_logits = std::move(logits);
    decoding_ = true;
  }
  prefill_ms_ += ms_since(t0);
  state_->publish();
  reply_->progress(double(prefilled_), double(input_.size()), "tokens", prefill_ms_);
  return false;
}

bool GenerateJob::decode_step() {
  const std::optional<int32_t> token = next_token();
  if (!token) return true;
  eval(&*token, 1, LogitsMode::Last, state_->last_logits);
  return decoded();
}

std::optional<int32_t> GenerateJob::next_token() {
  if (generated_.size() >= size_t(request_.max_tokens)) {
    finish("max-tokens");
    return std::nullopt;
  }
  decode_t0_ = Clock::now();
  const int32_t token = sampler_.sample(state_->last_logits.data(), runtime_->vocab, state_->history, nullptr);
  if (std::find(request_.stop_token_ids.begin(), request_.stop_token_ids.end(), token) !=
      request_.stop_token_ids.end()) {
    decode_ms_ += ms_since(decode_t0_);
    finish("eos");
    return std::nullopt;
  }
  generated_.push_back(token);
  reply_->token(token);
  int32_t stop_index = -1;
  if (!stops_.empty() && vocabulary_ && size_t(token) < vocabulary_->size())
    stop_index = stops_.push((*vocabulary_)[token]);
  const bool fits = state_->cache->next_position() + 1 <= state_->cache->max_tokens();
  const char* reason = nullptr;
  if (stop_index >= 0)
    reason = "stop-sequence";
  else if (generated_.size() >= size_t(request_.max_tokens))
    reason = "max-tokens";
  else if (!fits)
    reason = "context-full";
  if (reason) {
    // The last token stays pending (a follow-up on this session evaluates it first), unless the
    // window is full: then it is output but cannot join the sequence.
    if (fits) {
      state_->pending = {token};
      state_->last_logits.clear();
    }
    decode_ms_ += ms_since(decode_t0_);
    finish(reason, stop_index);
    return std::nullopt;
  }
  return token;
}

bool GenerateJob::decoded() {
  decode_ms_ += ms_since(decode_t0_);
  state_->publish();
  return false;
}

bool GenerateJob::finish(const char* reason, int32_t stop_index) {
  const std::string why = reason;
  if (why == "abort") rollback();
  state_->publish();
  auto tokens = generated_;
  const double prefill_ms = prefill_ms_, decode_ms = decode_ms_;
  const double prompt_tokens = double(prefilled_);
  reply_->resolve([tokens, why, stop_index, prefill_ms, decode_ms, prompt_tokens](Napi::Env env) {
    Napi::Object result = Napi::Object::New(env);
    auto ids = Napi::Int32Array::New(env, tokens.size());
    if (!tokens.empty()) std::memcpy(ids.Data(), tokens.data(), tokens.size() * sizeof(int32_t));
    result.Set("tokens", ids);
    result.Set("finishReason", Napi::String::New(env, why));
    if (stop_index >= 0) result.Set("stopSequenceIndex", Napi::Number::New(env, stop_index));
    result.Set("promptTokens", Napi::Number::New(env, prompt_tokens));
    result.Set("prefillMs", Napi::Number::New(env, prefill_ms));
    result.Set("decodeMs", Napi::Number::New(env, decode_ms));
    return result;
  });
  return true;
}

// ---- SampleJob ----------------------------------------------------------------------------------

SampleJob::SampleJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                     SamplingParams sampling, std::optional<std::vector<int32_t>> allowed)
    : SessionJob(runtime, std::move(state), std::move(reply)), sampling_(sampling), allowed_(std::move(allowed)) {}

bool SampleJob::step() {
  begin();
  check_aborted();
  flush_pending();
  if (state_->last_logits.empty())
    throw EngineError(ErrorCode::InvalidArgument, "nothing to sample from: evaluate some tokens first");
  SamplingParams params = sampling_;
  // Same seed + same sequence length = same draw, however many sample() calls came before.
  if (params.has_seed) params.seed ^= (uint64_t(state_->history.size()) + 1) * 0x9E3779B97F4A7C15ull;
  Sampler sampler(params);
  const int32_t token = sampler.sample(state_->last_logits.data(), runtime_->vocab, state_->history,
                                       allowed_ ? &*allowed_ : nullptr);
  state_->publish();
  reply_->resolve([token](Napi::Env env) { return Napi::Number::New(env, token); });
  return true;
}

// ---- TruncateJob --------------------------------------------------------------------------------

TruncateJob::TruncateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                         int64_t n)
    : SessionJob(runtime, std::move(state), std::move(reply)), n_(n) {}

bool TruncateJob::step() {
  begin();
  check_aborted();
  auto& s = *state_;
  const int64_t total = s.logical_tokens();
  if (n_ < 0 || n_ > total)
    throw EngineError(ErrorCode::InvalidArgument, "truncate(" + std::to_string(n_) + "): the sequence has " +
                                                      std::to_string(total) + " tokens");
  const int64_t in_cache = int64_t(s.history.size());
  if (n_ == 0) {
    s.cache->clear();
    s.decoding_press.reset();
    s.history.clear();
    s.pending.clear();
    s.last_logits.clear();
  } else if (n_ > in_cache) {
    s.pending.resize(size_t(n_ - in_cache));
  } else if (n_ < total) {
    // Keep token n-1 as pending rather than in the cache, so its logits are recomputed on demand.
    const int32_t keep_last = s.history[size_t(n_ - 1)];
    s.cache->truncate(int32_t(n_ - 1));
    s.history.resize(size_t(n_ - 1));
    s.pending = {keep_last};
    s.last_logits.clear();
  }
  s.publish();
  reply_->resolve([](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  return true;
}

// ---- DisposeJob ---------------------------------------------------------------------------------

DisposeJob::DisposeJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply)
    : SessionJob(runtime, std::move(state), std::move(reply)) {}

bool DisposeJob::step() {
  state_->cache.reset();
  state_->decoding_press.reset();
  state_->history.clear();
  state_->history.shrink_to_fit();
  state_->pending.clear();
  state_->last_logits.clear();
  state_->last_logits.shrink_to_fit();
  state_->publish();
  reply_->resolve([](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  return true;
}

}  // namespace presskv::addon
