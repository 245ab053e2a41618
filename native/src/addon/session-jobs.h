#pragma once
// The jobs a session runs on its runtime's worker. Each step is bounded (one prefill chunk or one
// decode token). A job that fails or is aborted rolls the session back to where it was before the
// job started, so an aborted request leaves no trace and frees its KV pages.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "addon/decode-batcher.h"
#include "addon/js-reply.h"
#include "addon/runtime-core.h"
#include "addon/session-state.h"
#include "core/errors.h"
#include "core/sampler.h"
#include "core/scheduler.h"
#include "core/stop-sequences.h"

namespace presskv::addon {

class SessionJob : public Job {
 public:
  void fail(std::exception_ptr error) override;

 protected:
  SessionJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply);
  // Records the rollback point; call at the start of the first step.
  void begin();
  void rollback();
  // Throws ERR_ABORTED when abort() reached this job.
  void check_aborted() const;
  // Evaluates tokens (appending them to history); logits go to out for Last/All.
  void eval(const int32_t* tokens, int32_t n, LogitsMode mode, std::vector<float>& out);
  // Evaluates pending tokens so that last_logits is current.
  void flush_pending();
  void require_room(size_t n_tokens) const;

  RuntimeCore* runtime_;
  std::shared_ptr<SessionState> state_;
  std::unique_ptr<JsReply> reply_;
  bool started_ = false;

 private:
  size_t start_position_ = 0;
  size_t start_history_ = 0;
  std::vector<int32_t> start_pending_;
  std::vector<float> start_logits_;
};

enum class LogitsRequest { None, Last, All };

// evaluate(tokens, {logits}) → Float32Array | undefined
class EvaluateJob : public SessionJob {
 public:
  EvaluateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
              std::vector<int32_t> tokens, LogitsRequest logits);
  bool step() override;

 private:
  std::vector<int32_t> input_;  // pending + tokens
  size_t skip_rows_ = 0;        // rows of `All` logits that belong to pending tokens
  size_t done_ = 0;
  LogitsRequest logits_;
  std::vector<float> all_rows_;
  std::chrono::steady_clock::time_point started_at_;
};

struct GenerateRequest {
  SamplingParams sampling;
  int32_t max_tokens = 0;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop_sequences;
  std::vector<int32_t> prompt;
};

// generate({...}, onToken) → {tokens, finishReason, stopSequenceIndex?, promptTokens, prefillMs, decodeMs}
// Its decode steps join the runtime's decode batches unless the session has a decoding press (the
// press acts inside the forward pass of this one sequence).
class GenerateJob : public SessionJob, public BatchedDecodeJob {
 public:
  GenerateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
              GenerateRequest request, std::shared_ptr<const Vocabulary> vocabulary);
  bool step() override;
  StepBatcher* batcher() override;
  std::optional<DecodeRow> begin_decode() override;
  bool end_decode(const DecodeRow& row) override;

 private:
  bool prefill_step();
  bool decode_step();
  // Samples the next token, streams it and checks the stop conditions: the token to evaluate, or
  // nullopt when that finished the job.
  std::optional<int32_t> next_token();
  // The token is in the sequence now: bookkeeping of a decode step that goes on.
  bool decoded();
  bool finish(const char* reason, int32_t stop_index = -1);
  bool finish_on_abort(const EngineError& e);

  GenerateRequest request_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  Sampler sampler_;
  StopSequenceMatcher stops_;
  std::vector<int32_t> input_;
  size_t prefilled_ = 0;
  bool decoding_ = false;
  std::vector<int32_t> generated_;
  double prefill_ms_ = 0;
  double decode_ms_ = 0;
  std::chrono::steady_clock::time_point decode_t0_;
};

// sample({sampling, allowedTokenIds}) → token id. Samples from the logits after the last token without
// appending it (append with evaluate). With a seed, the draw depends only on (seed, sequence length).
class SampleJob : public SessionJob {
 public:
  SampleJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
            SamplingParams sampling, std::optional<std::vector<int32_t>> allowed);
  bool step() override;

 private:
  SamplingParams sampling_;
  std::optional<std::vector<int32_t>> allowed_;
};

// truncate(n): keeps the first n tokens of the sequence.
class TruncateJob : public SessionJob {
 public:
  TruncateJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply, int64_t n);
  bool step() override;

 private:
  int64_t n_;
};

// dispose(): frees the cache once the session's earlier jobs are done.
class DisposeJob : public SessionJob {
 public:
  DisposeJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply);
  bool step() override;
};

}  // namespace presskv::addon
