#pragma once
// The state of one sequence: its KV cache and the tokens in it. Only the session's current job
// touches it (on the worker thread); JS reads the published stats.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kv/kv-cache.h"

namespace presskv::press {
class PressPipeline;
}

namespace presskv::addon {

struct SessionState {
  std::unique_ptr<KvCache> cache;
  std::vector<int32_t> history;    // tokens whose K/V are in the cache, oldest first
  // Tokens accepted into the sequence but not evaluated yet (the last token of a generation, the
  // token after a truncation point); the next job evaluates them first.
  std::vector<int32_t> pending;
  std::vector<float> last_logits;  // logits after history.back(); empty when pending is not
  // The press of prefillContext when it acts during decoding (DecodingPress, DMS decoding, ...): every
  // later eval of this sequence runs it. A fork gets its own copy (PressPipeline::fork), in the same state.
  std::shared_ptr<press::PressPipeline> decoding_press;

  std::atomic<int64_t> published_tokens{0};
  // Pages only this sequence holds, and pages it shares with forks (counted once in the pool's total).
  std::atomic<int64_t> published_bytes{0};
  std::atomic<int64_t> published_shared_bytes{0};
  // Slots held per (layer, kv-head), layer-major: what a press left of each head (kvStats().lengths).
  std::vector<int32_t> published_lengths;
  mutable std::mutex lengths_mutex;  // published_lengths is written by the worker, read by JS

  int64_t logical_tokens() const { return int64_t(history.size() + pending.size()); }
  // Worker thread (or JS thread once no worker runs): refreshes the figures kvStats() reads.
  void publish();
};

}  // namespace presskv::addon
