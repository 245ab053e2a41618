#include "core/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

#include "core/errors.h"

namespace presskv {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw EngineError(ErrorCode::InvalidArgument, message);
}

struct Candidate {
  int32_t token;
  float logit;
};

bool higher(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

float max_logit(const std::vector<Candidate>& cands) {
  float m = -std::numeric_limits<float>::infinity();
  for (const auto& c : cands) m = std::max(m, c.logit);
  return m;
}

// Softmax of the candidates' logits, in candidate order (double keeps the tail's mass exact enough).
std::vector<double> softmax(const std::vector<Candidate>& cands) {
  const double m = max_logit(cands);
  std::vector<double> p(cands.size());
  double sum = 0;
  for (size_t i = 0; i < cands.size(); i++) {
    p[i] = std::exp(double(cands[i].logit) - m);
    sum += p[i];
  }
  for (auto& v : p) v /= sum;
  return p;
}

std::vector<Candidate> gather(const float* logits, int32_t vocab, const std::vector<int32_t>* allowed) {
  std::vector<Candidate> cands;
  if (allowed) {
    cands.reserve(allowed->size());
    std::vector<bool> seen(vocab, false);
    for (int32_t t : *allowed) {
      require(t >= 0 && t < vocab,
              "allowed token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      if (!seen[t]) cands.push_back({t, logits[t]}), seen[t] = true;
    }
    require(!cands.empty(), "allowedTokenIds is empty: there is no token to sample");
  } else {
    cands.resize(vocab);
    for (int32_t t = 0; t < vocab; t++) cands[t] = {t, logits[t]};
  }
  // A NaN logit can never win; treat it as impossible rather than poisoning the softmax.
  for (auto& c : cands)
    if (std::isnan(c.logit)) c.logit = -std::numeric_limits<float>::infinity();
  return cands;
}

void apply_penalties(std::vector<Candidate>& cands, bool full_vocab, const SamplingParams& p,
                     const std::vector<int32_t>& history) {
  const bool active = p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  if (!active || p.penalty_last_n == 0 || history.empty()) return;
  const size_t n = p.penalty_last_n < 0 ? history.size() : std::min(history.size(), size_t(p.penalty_last_n));
  std::unordered_map<int32_t, int32_t> counts;
  for (size_t i = history.size() - n; i < history.size(); i++) counts[history[i]]++;
  auto penalize = [&](Candidate& c, int32_t count) {
    // llama.cpp: dividing a negative logit would raise it, so negative logits are multiplied instead.
    c.logit = c.logit > 0 ? c.logit / p.repetition_penalty : c.logit * p.repetition_penalty;
    c.logit -= float(count) * p.frequency_penalty + p.presence_penalty;
  };
  if (full_vocab) {
    // cands[t] is token t: touch only the penalised tokens instead of hashing the whole vocabulary.
    for (const auto& [token, count] : counts)
      if (token >= 0 && size_t(token) < cands.size()) penalize(cands[size_t(token)], count);
    return;
  }
  for (auto& c : cands) {
    auto it = counts.find(c.token);
    if (it != counts.end()) penalize(c, it->second);
  }
}

void keep_top_k(std::vector<Candidate>& cands, int32_t k) {
  if (k <= 0 || size_t(k) >= cands.size()) return;
  std::partial_sort(cands.begin(), cands.begin() + k, cands.end(), higher);
  cands.resize(k);
}

void keep_top_p(std::vector<Candidate>& cands, float top_p) {
  if (top_p >= 1.0f || cands.size() <= 1) return;
  std::sort(cands.begin(), cands.end(), higher);
  const auto probs = softmax(cands);
  double cumulative = 0;
  size_t keep = cands.size();
  for (size_t i = 0; i < cands.size(); i++) {
    cumulative += probs[i];
    if (cumulative >= top_p) {
      keep = i + 1;
      break;
    }
  }
  cands.resize(keep);
}

void keep_min_p(std::vector<Candidate>& cands, float min_p) {
  if (min_p <= 0.0f || cands.size() <= 1) return;
  // p_i >= min_p * p_max  ⇔  logit_i >= max_logit + log(min_p)
  const float threshold = max_logit(cands) + std::log(min_p);
  std::vector<Candidate> kept;
  kept.reserve(cands.size());
  for (const auto& c : cands)
    if (c.logit >= threshold) kept.push_back(c);
  if (!kept.empty()) cands.swap(kept);
}

Candidate argmax(const std::vector<Candidate>& cands) {
  Candidate best = cands[0];
  for (const auto& c : cands)
    if (higher(c, best)) best = c;
  return best;
}

}  // namespace

void validate_sampling(const SamplingParams& p) {
  require(std::isfinite(p.temperature) && p.temperature >= 0,
          "temperature must be a finite number >= 0 (0 = greedy), got " + std::to_string(p.temperature));
  require(p.top_k >= 0, "topK must be an integer >= 0 (0 = off), got " + std::to_string(p.top_k));
  require(std::isfinite(p.top_p) && p.top_p > 0 && p.top_p <= 1,
          "topP must be in (0, 1], got " + std::to_string(p.top_p));
  require(std::isfinite(p.min_p) && p.min_p >= 0 && p.min_p <= 1,
          "minP must be in [0, 1], got " + std::to_string(p.min_p));
  require(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0,
          "repetitionPenalty must be a finite number > 0 (1 = off), got " + std::to_string(p.repetition_penalty));
  require(std::isfinite(p.presence_penalty), "presencePenalty must be a finite number");
  require(std::isfinite(p.frequency_penalty), "frequencyPenalty must be a finite number");
  require(p.penalty_last_n >= -1, "penaltyLastN must be -1 (whole history), 0 (off) or a positive count, got " +
                                      std::to_string(p.penalty_last_n));
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  validate_sampling(params);
  if (params.has_seed) {
    rng_.seed(params.seed);
  } else {
    std::random_device device;
    rng_.seed((uint64_t(device()) << 32) ^ device());
  }
}

std::vector<TokenProbability> Sampler::distribution(const float* logits, int32_t vocab,
                                                    const std::vector<int32_t>& history,
                                                    const std::vector<int32_t>* allowed) const {
  require(vocab > 0, "cannot sample from an empty vocabulary");
  auto cands = gather(logits, vocab, allowed);
  apply_penalties(cands, allowed == nullptr, params_, history);
  if (params_.temperature == 0.0f) return {{argmax(cands).token, 1.0f}};
  keep_top_k(cands, params_.top_k);
  keep_top_p(cands, params_.top_p);
  keep_min_p(cands, params_.min_p);
  // Every candidate at -inf (e.g. a mask that allows only impossible tokens): fall back to the first.
  if (max_logit(cands) == -std::numeric_limits<float>::infinity()) return {{cands[0].token, 1.0f}};
  for (auto& c : cands) c.logit /= params_.temperature;
  const auto probs = softmax(cands);
  std::vector<TokenProbability> out(cands.size());
  for (size_t i = 0; i < cands.size(); i++) out[i] = {cands[i].token, float(probs[i])};
  return out;
}

int32_t Sampler::sample(const float* logits, int32_t vocab, const std::vector<int32_t>& history,
                        const std::vector<int32_t>* allowed) {
  const auto dist = distribution(logits, vocab, history, allowed);
  if (dist.size() == 1) return dist[0].token;
  const double u = next_uniform();
  double cumulative = 0;
  for (const auto& tp : dist) {
    cumulative += tp.probability;
    if (u < cumulative) return tp.token;
  }
  // Rounding left u above the float sum: the last candidate with any mass takes it.
  for (auto it = dist.rbegin(); it != dist.rend(); ++it)
    if (it->probability > 0) return it->token;
  return dist.back().token;
}

double Sampler::next_uniform() { return double(rng_() >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace presskv
