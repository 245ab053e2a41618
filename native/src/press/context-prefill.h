#pragma once
// A context prefill with a press (DESIGN.md §4), as every caller runs it (session prefillContext, the
// quality evaluation): the forward with the press hook, compressing layer by layer; for a press that
// scores by context reconstruction (KVzip, KVCompose), then every reconstruction pass through the same
// forward on top of the uncompressed context cache, each cut off the cache right after it ran, and the
// press's decision once the cache holds exactly the context again. Peak KV memory: the uncompressed
// context plus the longest pass. What follows the context is positioned as kvpress positions the question
// (kvpress-spec §5): at the context's uncompressed length, or — when the press re-rotated the keys to
// contiguous positions (KeyRerotationPress, FinchPress with rerotateKeys) — right after the longest head's
// kept slots.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread-pool.h"
#include "kv/kv-cache.h"
#include "model/forward.h"
#include "model/weights.h"
#include "press/pipeline.h"

namespace presskv::press {

// Called on the prefilling thread after each layer of the context's forward and of every reconstruction
// pass: done layers of total (= n_layers × (1 + passes)), ending at total.
using LayerProgress = std::function<void(int64_t done, int64_t total)>;

// Appends `tokens` to `cache` (options.press_hook is set here; null pipeline = a plain prefill) and
// writes the context's logits as options.logits says. Throws ContextOverflow before any work when a
// reconstruction pass would not fit in the cache's window; on any failure the cache is as before.
// progress (optional): see LayerProgress; it does not change what is computed.
void prefill_context(Forward& forward, KvCache& cache, const std::vector<int32_t>& tokens, EvalOptions options,
                     PressPipeline* pipeline, const LoadedModel& model, ThreadPool& pool, std::vector<float>& logits,
                     const LayerProgress& progress = {});

}  // namespace presskv::press
