#pragma once
// The sampler on plain logits, without a model: lets tests (and tools) check the distribution the
// native sampler draws from against a reference implementation.
#include <napi.h>

namespace presskv::addon {
// samplerDistribution(logits: Float32Array, sampling, history?: Int32Array, allowed?: Int32Array)
//   → Float32Array of vocab probabilities (0 for filtered tokens)
// samplerDraw(logits, sampling, history?, allowed?, count) → Int32Array of `count` successive draws
void register_sampler(Napi::Env env, Napi::Object exports);
}  // namespace presskv::addon
