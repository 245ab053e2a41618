#pragma once
// A session's saved form (Session.saveKv / loadKv): everything a sequence needs to continue exactly where
// it was — its token history, pending tokens, kept logits and its KV cache (kv/kv-serialize.h) — framed by
// a magic, a format version and a checksum. Independent of the page size; bound to the model's shape, the
// vocabulary size and the KV dtype, which loading checks.
//
// Layout (little-endian):
//   "PKVS"  u32 version  u32 vocab  u32 n_history  u32 n_pending  u32 n_logits (0 or vocab)
//   i32 history[n_history]  i32 pending[n_pending]  f32 logits[n_logits]
//   KV cache section (kv/kv-serialize.h)
//   u64 checksum of every byte before it
#include <cstdint>
#include <memory>
#include <vector>

#include "addon/session-state.h"
#include "kv/kv-cache.h"
#include "model/model-spec.h"

namespace presskv::addon {

constexpr uint32_t kSessionPayloadVersion = 1;

std::vector<uint8_t> save_session(const SessionState& state, int32_t vocab);

struct LoadedSession {
  std::unique_ptr<KvCache> cache;
  std::vector<int32_t> history;
  std::vector<int32_t> pending;
  std::vector<float> last_logits;
};

// Builds a new cache (pool, options) from a payload. Throws ERR_CORRUPT_FILE for a malformed, damaged or
// mismatching payload (with what is wrong), ERR_CONTEXT_OVERFLOW when it does not fit options.max_tokens,
// ERR_OUT_OF_MEMORY when the KV budget cannot hold it. Nothing outside the returned value is touched.
LoadedSession load_session(const uint8_t* data, size_t size, const ModelConfig& config, std::shared_ptr<KvPool> pool,
                           const KvCacheOptions& options);

// The payload checksum: any change to a single 8-byte word changes it (every step is a bijection).
uint64_t payload_checksum(const uint8_t* data, size_t size);

}  // namespace presskv::addon
