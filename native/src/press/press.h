#pragma once
// The native press contract (DESIGN.md §4, shared/reference/kvpress-spec.md).
//
// A press sees one layer at a time, after that layer's attention ran on the whole (uncompressed)
// context and before the next layer runs. It returns, per kv-head, the slots to keep; heads may keep
// different counts, and the cache frees the rest for real. Presses that must see every layer before
// deciding (KVzip, FastKVzip, KVCompose) say so with `defers_to_finish()`: the pipeline then keeps every
// layer uncompressed until `finish()` (peak KV memory = the full uncompressed cache of the context).
//
// Data layout everywhere: K and V are f32 [Hk, n, d] (K post-RoPE), positions are int32 [Hk, n]
// (original token position of each slot; heads may differ once an earlier press ran), X is the
// attention input after the layer's input RMSNorm, f32 [q, hidden]. The last q slots of every head are
// the tokens of X, in order. Ragged layers (head-wise compression, then decoding): n is the longest
// head; a head holding fewer slots is padded at the FRONT with slots of position −1 and zero K/V, which
// attention ignores, selection scores −inf (mask_padding) and the pipeline never keeps.
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/model-spec.h"
#include "press/press-config.h"

namespace presskv::press {

// What the press may ask of the model for the current layer. The forward implements it from the
// loaded weights; tests implement it from plain f32 weights (addon/press-handle.cc).
class ModelAccess {
 public:
  virtual ~ModelAccess() = default;
  virtual const ModelConfig& config() const = 0;
  // Queries before RoPE of `rows` rows of X (q_proj (+bias), then the qwen3 per-head q_norm):
  // out = [H, rows, d].
  virtual void prerope_queries(int32_t layer, const float* x, int32_t rows, float* out) const = 0;
  // Keys before RoPE (k_proj (+bias), k_norm): out = [Hk, rows, d].
  virtual void prerope_keys(int32_t layer, const float* x, int32_t rows, float* out) const = 0;
  // The output projection's slice for one query head as f32 [d, hidden]: row c = W_O[:, head*d + c].
  virtual bool has_output_projection(int32_t layer) const = 0;
  virtual void output_projection(int32_t layer, int32_t head, float* out) const = 0;
  // Runs fn over contiguous ranges of [0, n), on the model's threads where it has them.
  virtual void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn) const { fn(0, n); }
};

// One layer's cache as the press sees it. keys / values / positions are the press's own f32 copies:
// a press may rewrite them in place (rerotation, merged values, zeroed key channels) and says so in
// LayerDecision; only the kept slots are written back.
struct LayerView {
  int32_t layer = 0;
  int32_t n_layers = 0;
  int32_t n = 0;        // slots per kv-head
  int32_t q = 0;        // rows of X (tokens of this forward)
  int32_t n_heads = 0;  // H
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t hidden_size = 0;
  const float* hidden = nullptr;  // X [q, hidden]
  float* keys = nullptr;          // [Hk, n, d] post-RoPE
  float* values = nullptr;        // [Hk, n, d]
  int32_t* positions = nullptr;   // [Hk, n]
  // Eager attention probabilities of this forward's queries, [H, q, n] (ObservedAttention); may be null.
  const float* attentions = nullptr;
  // Absolute position of the first row of X (prefill: 0). Decoding presses pass the buffer's start.
  int32_t first_position = 0;
  const ModelAccess* model = nullptr;
  bool prefilling = true;

  float* key(int32_t h, int32_t t) const { return keys + ((int64_t)h * n + t) * head_dim; }
  float* value(int32_t h, int32_t t) const { return values + ((int64_t)h * n + t) * head_dim; }
  int32_t& position(int32_t h, int32_t t) const { return positions[(int64_t)h * n + t]; }
};

// What a press decided for one layer.
struct LayerDecision {
  bool unchanged = true;                 // true: keep everything untouched (ratio 0 / nothing to do)
  std::vector<std::vector<int32_t>> kept;  // per kv-head, slot indices to keep, in storage order
  bool keys_modified = false;            // the kept slots' keys in LayerView were rewritten
  bool values_modified = false;
  bool positions_modified = false;       // rerotation: new contiguous positions in LayerView.positions
  std::vector<float> scores;             // [Hk * n] when the press scored (tests, custom composition)
  double channel_ratio = 0.0;            // ThinK: fraction of key channels zeroed (reported, not freed)
  // Kept slots whose score equals the best dropped slot's: chosen by the selection's tie rule alone
  // (press/selection.h). Set by the top-k selection policies; 0 for decisions made otherwise.
  int64_t tied_kept = 0;

  void keep_all(int32_t n_kv_heads, int32_t n);
  int64_t kept_total() const;
};

enum class PressKind { Scorer, Wrapper, Decoding, Other };

// One context-reconstruction pass (KVzip, KVCompose): token ids the engine runs through the model on top
// of the uncompressed context cache, at positions n_context, n_context + 1, ...; it scores the context
// slots [begin, end).
struct ReconstructionPass {
  std::vector<int32_t> tokens;
  int32_t begin = 0, end = 0;
};

class Press {
 public:
  virtual ~Press() = default;
  virtual const std::string& name() const = 0;
  virtual PressKind kind() const = 0;
  // Scorers produce a score per (kv-head, slot), higher = keep; wrappers that need a scorer call it.
  virtual bool is_scorer() const { return false; }
  // scores: [Hk * n]. Only valid when is_scorer().
  virtual void score(const LayerView& view, std::vector<float>& scores);
  // The fraction removed this press aims at (ScorerPress: compression_ratio); wrappers override.
  virtual double compression_ratio() const { return 0.0; }
  virtual void set_compression_ratio(double) {}
  // Checks what can only be checked against the context (a window longer than the context, a missing
  // press-specific input) before any work: InvalidArgument.
  virtual void validate(int32_t /*n_context*/) const {}
  // Called once before the first layer of a prefill (resets per-sequence state).
  virtual void begin(int32_t /*n_layers*/) {}
  // Decides one layer. Scorers default to per-head top-k of floor(n(1-r)) (kept in positional order).
  virtual void compress(LayerView& view, LayerDecision& out);
  // Cross-layer presses: compress() records scores and returns unchanged; finish() then decides every
  // layer at once. views[l] are the same per-layer views compress() saw (still uncompressed).
  virtual bool defers_to_finish() const { return false; }
  virtual void finish(std::vector<LayerView>& /*views*/, std::vector<LayerDecision>& /*out*/) {}
  // Presses that score by context reconstruction (kvpress-spec §2.12, §2.14; they defer to finish()): the
  // passes to run after the prefill of `context` (empty: none, e.g. at ratio 0). The engine runs each one
  // through the model on top of the uncompressed context cache; score_pass() sees every layer with the
  // pass appended (its last view.q slots, X of the pass, first_position = the context length); the pass is
  // cut off the cache again before the next one, and finish() decides once every pass ran.
  virtual std::vector<ReconstructionPass> reconstruction_passes(const std::vector<int32_t>& /*context*/) { return {}; }
  virtual void score_pass(const LayerView& /*view*/, int32_t /*pass*/) {}
  // Called for every forward after the prefill (question, generated tokens), per layer, with the whole
  // cache of that layer and X of the new tokens only. Decoding presses (DecodingPress, CAM, DMS with
  // decoding) compress here; everything else leaves the cache alone.
  virtual void decode(LayerView& /*view*/, LayerDecision& out) { out.unchanged = true; }
  // True when decode() may change the cache (the pipeline skips the gather otherwise).
  virtual bool acts_during_decoding() const { return false; }
  // True when compress() only uses token-local inputs (DMS / decoding presses may feed it new tokens only).
  virtual bool token_local() const { return false; }
  // True when compress() moves the kept keys to contiguous positions (KeyRerotationPress, FinchPress with
  // rerotateKeys): new tokens then continue after the kept slots, not at the uncompressed length.
  virtual bool rerotates_keys() const { return false; }
  // A fork of a sequence continues with a new press made from the same config: this copies what the press
  // holds about the sequence so far (decoding buffers, step counters, window scores, RNG) from `from`, a
  // press of the same class and config, so that the fork compresses exactly as the original would.
  virtual void copy_sequence_state(const Press& from) { rng_ = from.rng_; }
  // Deterministic RNG (Random, LeverageScore, CUR sketches): seeded from config "seed" (default 0).
  std::mt19937_64& rng() { return rng_; }

 protected:
  std::mt19937_64 rng_{0};
};

// `from` as the class copying its state (copy_sequence_state only pairs presses made from one config).
template <class P>
const P& same_press_as(const Press& from) {
  const P* p = dynamic_cast<const P*>(&from);
  if (!p) throw std::logic_error("copy_sequence_state between presses of different classes: " + from.name());
  return *p;
}

// Builds a press tree from its config (validates names, options, ratios, children, artefacts) and
// throws EngineError(InvalidArgument | NotFound | CorruptFile) before any work.
// model_config: needed by presses whose options depend on the model (PerLayerCompression list length,
// artefact shapes); may be null in which case those checks happen at the first layer.
std::unique_ptr<Press> create_press(const PressConfig& config, const ModelConfig* model_config);

// Names of every press create_press knows (kvpress class names).
const std::vector<std::string>& press_names();

}  // namespace presskv::press
