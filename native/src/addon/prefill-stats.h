#pragma once
// The compression figures of a context prefill (press::prefill_context) that Session.prefillContext
// (session-press-job.cc) and pressEvalContext (press-handle.cc) both report.
#include <napi.h>

#include <cstdint>
#include <vector>

#include "kv/kv-cache.h"
#include "press/pipeline.h"

namespace presskv::addon {

struct PrefillStats {
  double tokens_before = 0;  // context tokens × layers × kv-heads
  double tokens_after = 0;   // slots kept over every (layer, kv-head)
  double bytes_before = 0;   // page bytes the uncompressed context would hold
  double bytes_after = 0;    // page bytes the cache holds now
  std::vector<std::vector<int32_t>> per_layer;  // slots kept per kv-head of each layer
  double tied_slots = 0;  // kept slots the selection's tie rule decided (press/selection.h); 0 without a press
  // { tokensBefore, tokensAfter, bytesBefore, bytesAfter, tiedSlots, perLayer: [{ layer, perHead }] }
  Napi::Object to_js(Napi::Env env) const;
};

// The figures of a cache that holds exactly a prefilled context of n_context tokens.
// pipeline: the press that compressed it (its tie count), or null.
PrefillStats prefill_stats(KvCache& cache, int32_t n_context, const press::PressPipeline* pipeline = nullptr);

}  // namespace presskv::addon
