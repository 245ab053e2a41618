#pragma once
// `presskv calibrate`: statistics of a model's queries over calibration text, turned into the press
// artefacts of native/src/press/artefacts.h.
//
// The text is run through the engine's own forward in chunks (each chunk a fresh prefill from position
// 0). A capture press rides on the layer-major prefill (it never changes the cache) and, per layer,
// recomputes the queries of the layer's attention input X exactly as the forward does:
//   * ExpectedAttentionStats: pre-RoPE queries of every position ≥ n_sink of a chunk; running sums of q
//     and q·qᵀ in f64 per (layer, query head) → mean and unbiased covariance (kvpress-spec §2.4).
//   * QFilter: post-RoPE queries (rotated at their real positions, because QFilterPress scores the
//     cache's post-RoPE keys), same positions, summed q·qᵀ over the g query heads of each kv-head group;
//     the principal right singular vector u of that stacked query matrix is the top eigenvector of the
//     second moment. The artefact stores f = −u with u signed so that the mean query projects positively
//     on u: kvpress scores S = −⟨f, K⟩ = ⟨u, K⟩, so keys lying along the dominant query direction (the
//     ones queries attend to) score high and are kept.
//   * DuoAttention: kvpress's on-the-fly estimator (§2.11) on each chunk — the mean pre-RoPE query at
//     position 499 against the mean key at positions 0..499, area under the cumulative attention,
//     averaged over the group — averaged over chunks (kvpress averages over samples), clipped to [0, 1].
//     Queries/keys are the forward's own (qwen3 q/k norm applied; kvpress's norm branch never triggers):
//     the choice DuoAttentionPress's onTheFlyScoring makes too.
#include <cstdint>
#include <memory>
#include <vector>

#include "press/press.h"

namespace presskv::press {

enum class CalibrationKind { ExpectedAttentionStats, QFilter, DuoAttention };

class CalibrationStats {
 public:
  CalibrationStats(const ModelConfig& config, CalibrationKind kind, int32_t n_sink);
  // Adds one layer of one chunk: x = the layer's attention input [rows, hidden] of positions
  // first_position.. (the capture press calls it).
  void add_layer(const ModelAccess& model, int32_t layer, const float* x, int32_t rows, int32_t first_position);
  void end_chunk() { ++chunks_; }

  CalibrationKind kind() const { return kind_; }
  int64_t samples(int32_t layer) const { return count_[layer]; }  // query rows summed for that layer
  int32_t chunks() const { return chunks_; }

  // ExpectedAttentionStats: [L, H, d] and [L, H, d, d]. InvalidArgument when fewer than 2 rows were seen.
  std::vector<float> query_mean() const;
  std::vector<float> query_cov() const;
  // QFilter: [L, Hk, d] unit rows.
  std::vector<float> q_filters() const;
  // DuoAttention: [L, Hk] in [0, 1].
  std::vector<float> head_scores() const;

 private:
  void add_moments(const float* q, int32_t heads_per_slot, int32_t rows, int32_t skip, int32_t layer);
  void add_duo(const ModelAccess& model, int32_t layer, const float* x, int32_t rows);
  void need_samples(int32_t minimum) const;

  ModelConfig config_;
  CalibrationKind kind_;
  int32_t n_sink_;
  int32_t slots_;  // statistics slots per layer: H (stats) or Hk (qfilter, duo)
  std::vector<double> sum_;    // [L, slots, d]
  std::vector<double> outer_;  // [L, slots, d, d]
  std::vector<double> duo_;    // [L, Hk]
  std::vector<int64_t> count_;  // per layer, rows per query head
  int32_t chunks_ = 0;
};

// A press that only watches: hands each prefilled layer's X to the stats and keeps the cache as is.
std::unique_ptr<Press> make_calibration_capture(CalibrationStats& stats);

}  // namespace presskv::press
