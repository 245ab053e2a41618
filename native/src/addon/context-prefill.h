#pragma once
// The context prefill behind both Session.prefillContext (session-press-job.cc) and pressEvalContext
// (press-handle.cc), so that they compress and position alike: the layer-major eval with the press
// compressing each layer as it completes (DESIGN.md §4), then the position rule of kvpress-spec §5 for what
// follows, and the compression figures both report.
#include <napi.h>

#include <cstdint>
#include <vector>

#include "core/thread-pool.h"
#include "kv/kv-cache.h"
#include "model/forward.h"
#include "model/weights.h"
#include "press/pipeline.h"

namespace presskv::addon {

struct ContextPrefillStats {
  double tokens_before = 0;  // context tokens × layers × kv-heads
  double tokens_after = 0;   // slots kept over every (layer, kv-head)
  double bytes_before = 0;   // page bytes the uncompressed context would hold
  double bytes_after = 0;    // page bytes the cache holds now
  std::vector<std::vector<int32_t>> per_layer;  // slots kept per kv-head of each layer
  // { tokensBefore, tokensAfter, bytesBefore, bytesAfter, perLayer: [{ layer, perHead }] }
  Napi::Object to_js(Napi::Env env) const;
};

// Evaluates the context into an empty cache with the pipeline's press (none: a plain prefill) and leaves the
// cache ready for what follows: at the uncompressed length, or — when the press re-rotated the keys to
// contiguous positions (KeyRerotationPress, FinchPress with rerotateKeys) — right after the longest head's
// kept slots, as kvpress positions the question. options.press_hook is set here.
ContextPrefillStats prefill_context(Forward& forward, KvCache& cache, const std::vector<int32_t>& tokens,
                                    EvalOptions options, press::PressPipeline* pipeline, const LoadedModel& model,
                                    ThreadPool& pool, std::vector<float>& logits);

}  // namespace presskv::addon
