#pragma once
// The press pipeline: what the forward calls during a prefill with a press active (DESIGN.md §4).
//
// Layer-major prefill: for each layer l, the forward runs the whole context through layer l (chunked),
// then calls after_layer(l, X_l, ...) where X_l = the attention input of layer l after its input RMSNorm
// for every context token; the pipeline reads layer l's cache through LayerCacheAccess, runs the press,
// and retains the kept slots (the rest goes back to the pool). After the last layer the forward calls
// finish_prefill(); cross-layer presses (KVzip, FastKVzip, KVCompose) decide there, so with them every
// layer stays uncompressed until then and the pipeline holds every layer's X (peak memory: the full
// uncompressed context cache + L·q·hidden floats).
// Decoding: after each later forward (question, generated tokens) the forward calls after_decode_layer
// for each layer; only decoding presses (DecodingPress, CAM, DMS decoding) act there.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "press/press.h"

namespace presskv::press {

// One sequence's cache as the pipeline needs it; the forward implements it over KvCache pages.
class LayerCacheAccess {
 public:
  virtual ~LayerCacheAccess() = default;
  // Slots of (layer, kv-head) currently held.
  virtual int32_t length(int32_t layer, int32_t kv_head) const = 0;
  // Copies the layer as f32: keys / values [Hk, n, d] (keys post-RoPE as stored), positions [Hk, n],
  // n = the longest head's length. A shorter head is padded at the front: its first n − length slots
  // have position −1 and zero K/V (see press.h).
  virtual void gather(int32_t layer, std::vector<float>& keys, std::vector<float>& values,
                      std::vector<int32_t>& positions) const = 0;
  // Keeps only kept[h] of every head, in that order, and frees the rest. Indices are in the gathered
  // (padded) layout: head h's stored slot i is index n − length(layer, h) + i; padding is never passed.
  // When given, keys / values ([Hk, n, d], the gathered layout) and positions ([Hk, n]) replace the
  // kept slots' data (only the entries at kept indices are read).
  virtual void retain(int32_t layer, const std::vector<std::vector<int32_t>>& kept, const float* keys,
                      const float* values, const int32_t* positions) = 0;
};

struct LayerStats {
  int32_t layer = 0;
  std::vector<int32_t> before, after;  // slots per kv-head
  std::vector<float> scores;           // the decision's [Hk·n] scores, with record_scores (test harness)
  int64_t tied = 0;                    // kept slots chosen by the selection's tie rule (LayerDecision::tied_kept)
};

class PressPipeline {
 public:
  PressPipeline(std::unique_ptr<Press> press, const ModelConfig& config);
  // The press made from its config, which the pipeline keeps so that fork() can make it again.
  PressPipeline(const PressConfig& press, const ModelConfig& config);
  // The pipeline of a fork of this sequence: the same press, carrying on from this one's sequence state
  // (a decoding press's buffers and counters), independent from then on. Only for config-built pipelines.
  std::shared_ptr<PressPipeline> fork() const;
  Press& press() { return *press_; }
  // Checks the press against the context length before any work (InvalidArgument).
  void validate(int32_t n_context) const;
  void begin_prefill(int32_t n_context);
  // x: [q, hidden] attention inputs of the q tokens appended by this prefill (the last q slots of every
  // head); first_position: position of x's first row; attentions: optional eager weights [H, q, n].
  void after_layer(int32_t layer, const float* x, int32_t q, int32_t first_position, LayerCacheAccess& cache,
                   const ModelAccess& model, const float* attentions = nullptr);
  void finish_prefill(LayerCacheAccess& cache, const ModelAccess& model);
  // Context reconstruction (Press::reconstruction_passes): asked after begin_prefill, before the
  // context runs; the caller then runs every pass and calls finish_prefill itself.
  const std::vector<ReconstructionPass>& plan_reconstruction(const std::vector<int32_t>& context);
  bool reconstructs() const { return !passes_.empty(); }
  // x: [q, hidden] attention inputs of the pass; the layer's cache holds the context then the pass.
  void after_pass_layer(int32_t pass, int32_t layer, const float* x, int32_t q, int32_t first_position,
                        LayerCacheAccess& cache, const ModelAccess& model);
  void after_decode_layer(int32_t layer, const float* x, int32_t q, int32_t first_position, LayerCacheAccess& cache,
                          const ModelAccess& model);
  // True when the press may act during decoding (the forward can skip the gather otherwise).
  bool acts_during_decoding() const;
  // True when the press re-rotates kept keys to contiguous positions (press/context-prefill.h).
  bool rerotates_keys() const { return press_->rerotates_keys(); }
  const std::vector<LayerStats>& stats() const { return stats_; }
  void record_scores(bool on) { record_scores_ = on; }
  // Fraction of slots removed over the prefill's layers (tokens, not bytes).
  double achieved_ratio() const;
  // Kept slots the selection's tie rule decided, over the prefill's layers (LayerStats::tied).
  int64_t tied_kept() const;

 private:
  void run(LayerView& view, LayerDecision& decision, LayerCacheAccess& cache, bool record);
  LayerView make_view(int32_t layer, const float* x, int32_t q, int32_t first_position, const ModelAccess& model,
                      const float* attentions, std::vector<float>& keys, std::vector<float>& values,
                      std::vector<int32_t>& positions, LayerCacheAccess& cache) const;
  void apply(int32_t layer, LayerDecision& decision, const LayerView& view, LayerCacheAccess& cache);

  std::unique_ptr<Press> press_;
  std::optional<PressConfig> press_config_;
  ModelConfig config_;
  std::vector<LayerStats> stats_;
  // Cross-layer presses: every layer's X and first position, kept until finish_prefill.
  std::vector<std::vector<float>> deferred_x_;
  std::vector<int32_t> deferred_q_, deferred_first_;
  std::vector<ReconstructionPass> passes_;
  bool record_scores_ = false;
};

}  // namespace presskv::press
