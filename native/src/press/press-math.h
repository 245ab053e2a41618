#pragma once
// Small numeric helpers shared by the scorers (f32 storage, f64 accumulation where sums get long).
#include <cstdint>
#include <vector>

#include "press/press.h"

namespace presskv::press {

// Scores of padding slots (position < 0, ragged layers) set to −inf so that no selection keeps them.
void mask_padding(const LayerView& view, std::vector<float>& scores);
// floor(n·(1−r)) as kvpress computes it (Python int() of a double).
int32_t kept_count(int32_t n, double ratio);
// Largest finite value of a score tensor (−inf ignored; 0 when empty).
float max_score(const float* scores, int64_t count);
// scores[h*n + t] = value for t in [begin, end) of every head.
void fill_positions(std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int32_t begin, int32_t end, float value);
// [H, m] → [Hk, m]: mean over the g = H/Hk query heads sharing a kv-head.
void mean_over_groups(const float* per_head, int32_t n_heads, int32_t n_kv_heads, int64_t m, float* out);
void softmax(float* x, int64_t n);
// 1-D average pooling, stride 1, zero padding kernel/2 counted in the denominator (torch avg_pool1d).
void average_pool(const float* x, int64_t n, int32_t kernel, float* out);
// z-score with the mean / std (unbiased) of the whole tensor, std clamped >= 1e-6.
void global_zscore(std::vector<float>& x);
double l2_norm(const float* x, int32_t d);
// Pre-RoPE queries of the last `rows` rows of X, RoPE'd at their absolute positions: [H, rows, d].
std::vector<float> window_queries(const LayerView& view, int32_t rows);
// kvpress window_attention: softmax(Q_w K^T/√d) of the last w rows of X over every slot with a causal
// mask by position, returned for the slots before the window only: [H, w, n − w].
std::vector<float> window_attention(const LayerView& view, int32_t w);

}  // namespace presskv::press

namespace presskv::press {
// Σ over this forward's query rows of the causal attention probabilities, per query head: [H, n].
// Uses view.attentions when present, else recomputes the queries (RoPE'd at their positions).
std::vector<double> attention_column_sums(const LayerView& view);
// KeyRerotation (kvpress-spec §2.9): the kept slots of each head move to contiguous positions
// 0..kept−1 in ascending order of their original position; keys are rotated by the position change.
void rerotate_to_contiguous(LayerView& view, LayerDecision& decision);
// ‖V_{kv,t} · W_O[h]‖_p per query head h (p = 1 or 2; W_O[h] the head's slice of the output projection)
// for the slots t of [begin, end): [H, end − begin]. InvalidArgument naming `press` when the model gives
// no output projection.
std::vector<float> value_output_norms(const LayerView& view, int p, const std::string& press, int32_t begin, int32_t end);
}  // namespace presskv::press

namespace presskv::press {
// A LayerView over copies of some slots of another view (Chunk, Block, Compactor's middle slice).
// Every head takes the same number of slots; X rows are copied too. The sub-view's X rows must be the
// tokens of its last q slots, as in the full view.
struct OwnedView {
  std::vector<float> hidden, keys, values;
  std::vector<int32_t> positions;
  LayerView view;
};
// Slots [begin, end) of every head, with the X rows of those slots that belong to this forward.
OwnedView slice_view(const LayerView& v, int32_t begin, int32_t end);
// slots[h] (same size for every head); X rows = those of head 0's slots that belong to this forward.
OwnedView gather_view(const LayerView& v, const std::vector<std::vector<int32_t>>& slots);
}  // namespace presskv::press
