#pragma once
// Token sampling from one row of logits, with llama.cpp's semantics and order:
// allowed-token mask → penalties (repetition, presence, frequency) → top-k → top-p → min-p →
// temperature → softmax → draw. Temperature 0 means greedy (argmax after mask and penalties).
#include <cstdint>
#include <random>
#include <vector>

namespace presskv {

struct SamplingParams {
  float temperature = 0.0f;
  int32_t top_k = 0;                 // 0 = off
  float top_p = 1.0f;                // 1 = off; must be in (0, 1]
  float min_p = 0.0f;                // 0 = off; must be in [0, 1]
  float repetition_penalty = 1.0f;   // 1 = off; must be > 0
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t penalty_last_n = 64;       // 0 = no penalties, -1 = the whole history
  bool has_seed = false;             // without a seed the draw is seeded from std::random_device
  uint64_t seed = 0;
};

// Throws EngineError(InvalidArgument) naming the offending field (NaN, out of range, ...).
void validate_sampling(const SamplingParams& params);

// A token and the probability the sampler gives it; the list handed back by distribution() is the
// candidate set that survived filtering (order unspecified; tokens filtered out are absent).
struct TokenProbability {
  int32_t token;
  float probability;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // The final distribution the next draw would use. history = tokens the penalties look at (oldest
  // first: the prompt and everything generated); allowed = if non-null, the only tokens that may be chosen.
  std::vector<TokenProbability> distribution(const float* logits, int32_t vocab, const std::vector<int32_t>& history,
                                             const std::vector<int32_t>* allowed) const;
  // Samples one token and advances this sampler's random stream.
  int32_t sample(const float* logits, int32_t vocab, const std::vector<int32_t>& history,
                 const std::vector<int32_t>* allowed);

  const SamplingParams& params() const { return params_; }

 private:
  double next_uniform();  // [0, 1), the same sequence on every platform for one seed

  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace presskv
