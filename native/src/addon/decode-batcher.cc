#include "addon/decode-batcher.h"

#include <algorithm>

#include "core/errors.h"

namespace presskv::addon {

void DecodeBatcher::step_together(const std::vector<Job*>& jobs, std::vector<StepOutcome>& outcomes) {
  std::vector<BatchedDecodeJob*> members;  // the jobs whose row is in rows, same order
  std::vector<size_t> member_index;
  std::vector<DecodeRow> rows;
  for (size_t i = 0; i < jobs.size(); i++) {
    try {
      auto* job = dynamic_cast<BatchedDecodeJob*>(jobs[i]);
      if (!job) throw EngineError(ErrorCode::Internal, "a job without a decode step reached the decode batcher");
      std::optional<DecodeRow> row = job->begin_decode();
      if (!row) {
        outcomes[i].done = true;
        continue;
      }
      rows.push_back(std::move(*row));
      members.push_back(job);
      member_index.push_back(i);
    } catch (...) {
      outcomes[i].error = std::current_exception();
    }
  }
  if (!rows.empty()) evaluate(rows);
  for (size_t r = 0; r < rows.size(); r++) {
    try {
      outcomes[member_index[r]].done = members[r]->end_decode(rows[r]);
    } catch (...) {
      outcomes[member_index[r]].error = std::current_exception();
    }
  }
}

void DecodeBatcher::evaluate(std::vector<DecodeRow>& rows) {
  try {
    forward_->eval_batch(rows);
    const int64_t n = std::count_if(rows.begin(), rows.end(), [](const DecodeRow& row) { return !row.error; });
    if (n == 0) return;
    passes_.fetch_add(1);
    rows_.fetch_add(n);
    if (n > largest_.load()) largest_.store(n);  // only the worker thread writes
  } catch (...) {
    // The pass itself failed (every cache is back where it was), e.g. on the KV budget: each row is
    // retried alone, so only the sequence that causes the failure fails.
    for (DecodeRow& row : rows) {
      try {
        EvalOptions options;
        options.abort = row.abort;
        forward_->eval(*row.cache, &row.token, 1, options, *row.logits);
        row.error = nullptr;
      } catch (...) {
        row.error = std::current_exception();
      }
    }
  }
}

DecodeBatchStats DecodeBatcher::stats() const { return {passes_.load(), rows_.load(), largest_.load()}; }

}  // namespace presskv::addon
