#pragma once
// Batched decoding: the decode steps of concurrent generations that the scheduler gathers (one token
// each, distinct sequences) go through one Forward::eval_batch, so every weight matrix is read once per
// step for all of them instead of once per sequence.
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/scheduler.h"
#include "model/forward.h"

namespace presskv::addon {

// A job whose step is one decode token, split around the forward pass so that several can share it.
class BatchedDecodeJob {
 public:
  virtual ~BatchedDecodeJob() = default;
  // Before the pass: picks the next token. nullopt when the step ended the job without a forward
  // (an abort, a stop condition). Throws like step() would.
  virtual std::optional<DecodeRow> begin_decode() = 0;
  // After the pass, with the row begin_decode() returned (row.error set if it failed); returns done.
  virtual bool end_decode(const DecodeRow& row) = 0;
};

// Monotonic counters of the batched passes (runtime stats()).
struct DecodeBatchStats {
  int64_t passes = 0;   // eval_batch calls
  int64_t rows = 0;     // tokens they evaluated
  int64_t largest = 0;  // most rows in one pass
};

class DecodeBatcher final : public StepBatcher {
 public:
  // forward: the runtime's (outlives this batcher's use: the scheduler stops first). max_rows >= 1.
  DecodeBatcher(Forward* forward, size_t max_rows) : forward_(forward), max_rows_(max_rows) {}

  size_t max_jobs() const override { return max_rows_; }
  // Every job must be a BatchedDecodeJob (the only jobs that return this batcher).
  void step_together(const std::vector<Job*>& jobs, std::vector<StepOutcome>& outcomes) override;
  DecodeBatchStats stats() const;

 private:
  void evaluate(std::vector<DecodeRow>& rows);

  Forward* forward_;
  size_t max_rows_;
  std::atomic<int64_t> passes_{0}, rows_{0}, largest_{0};
};

}  // namespace presskv::addon
