// KVzipPress and FastKVzipPress (kvpress-spec §2.12, §2.13): importance of every (layer, head, token)
// for reconstructing the context, then one budget over all layers; each head keeps its own slots (freed
// for real). KVzip measures it with the reconstruction passes the engine runs after the prefill
// (press/context-prefill.h); FastKVzip predicts it from the prefill with learned gates.
#include <algorithm>
#include <cmath>

#include "press/artefacts.h"
#include "press/cross-layer-press.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/reconstruction-attention.h"
#include "press/reconstruction-plan.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

// Token ids from a numeric list option. The ids come from the model's tokenizer; the guard stays because a
// negative or fractional id would index outside the embedding table.
std::vector<int32_t> token_ids(const PressConfig& c, const std::string& key) {
  std::vector<int32_t> out;
  for (double id : c.list(key)) {
    if (id != (double)(int32_t)id || id < 0) c.internal("option '" + key + "' must hold token ids (integers >= 0)");
    out.push_back((int32_t)id);
  }
  return out;
}

// kvpress appends the last 8 tokens of the previous chunk to the "Repeat the part ..." instruction.
constexpr int32_t kPreviousChunkTail = 8;

class KVzipPress : public GlobalBudgetPress {
 public:
  explicit KVzipPress(const PressConfig& c)
      : GlobalBudgetPress(c),
        n_sink_((int32_t)c.integer("nSink", 0)),
        plus_(c.flag("kvzipPlusNormalization")),
        chunk_(0),
        prefix_length_(0) {
    // The reconstruction pieces are token ids of the model, which the TS press adds (KVzipPress.nativeConfigFor)
    // only when it compresses: at ratio 0 nothing is reconstructed.
    if (ratio_ == 0.0) return;
    if (!c.lists.count("repeatPromptIds") || !c.lists.count("repeatPartPromptIds") || !c.lists.count("suffixIds"))
      c.internal("needs the reconstruction prompts as token ids (repeatPromptIds, repeatPartPromptIds, suffixIds, "
                 "prefixLength, chunkSize), which the engine derives from the model's tokenizer and chat template "
                 "(engine/presses/reconstruction-prompts.ts)");
    chunk_ = (int32_t)c.integer("chunkSize", 1);
    prefix_length_ = (int32_t)c.integer("prefixLength", 0);
    repeat_ids_ = token_ids(c, "repeatPromptIds");
    repeat_part_ids_ = token_ids(c, "repeatPartPromptIds");
    suffix_ids_ = token_ids(c, "suffixIds");
  }

  void begin(int32_t n_layers) override {
    GlobalBudgetPress::begin(n_layers);
    plan_.reset();
  }

  void compress(LayerView& v, LayerDecision& out) override {
    out.unchanged = true;
    if (ratio_ == 0.0) return;
    // kvpress's initial scores: 0, the first n_sink slots 1; each pass overwrites its chunk.
    std::vector<float>& s = layer_scores(v.layer);
    s.assign((size_t)v.n_kv_heads * v.n, 0.0f);
    fill_positions(s, v.n_kv_heads, v.n, 0, std::min(n_sink_, v.n), 1.0f);
    out.scores = s;
  }

  // Chunks of the context after the template prefix; pass i = instruction (+ the previous chunk's tail)
  // + question suffix + chunk i.
  std::vector<ReconstructionPass> reconstruction_passes(const std::vector<int32_t>& context) override {
    std::vector<ReconstructionPass> passes;
    if (ratio_ == 0.0) return passes;
    const int32_t n = (int32_t)context.size();
    for (int32_t begin = std::min(prefix_length_, n); begin < n; begin += chunk_) {
      ReconstructionPass p;
      p.begin = begin;
      p.end = std::min(n, begin + chunk_);
      if (passes.empty()) {
        p.tokens = repeat_ids_;
      } else {
        p.tokens = repeat_part_ids_;
        const ReconstructionPass& prev = passes.back();
        p.tokens.insert(p.tokens.end(), context.begin() + std::max(prev.begin, prev.end - kPreviousChunkTail),
                        context.begin() + prev.end);
      }
      p.tokens.insert(p.tokens.end(), suffix_ids_.begin(), suffix_ids_.end());
      p.tokens.insert(p.tokens.end(), context.begin() + p.begin, context.begin() + p.end);
      passes.push_back(std::move(p));
    }
    return plan_.adopt(std::move(passes), (int32_t)scores_.size());
  }

  void score_pass(const LayerView& v, int32_t pass) override {
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, g = H / Hk, n_context = v.n - v.q;
    PassAttentionOptions o = plan_.score_layer(pass);
    o.n_sink = n_sink_;
    o.normalise_rows = plus_;
    const int32_t width = o.end - o.begin;
    const std::vector<float> attn = pass_attention(v, o);
    const std::vector<float> wov = plus_ ? output_l2_norms(v, o.begin, o.end) : std::vector<float>();
    std::vector<float>& s = layer_scores(v.layer);
    if (s.size() != (size_t)Hk * n_context) throw EngineError(ErrorCode::Internal, name_ + ": a pass before the prefill");
    for (int32_t kv = 0; kv < Hk; ++kv)
      for (int32_t t = 0; t < width; ++t) {
        float best = 0.0f;
        for (int32_t j = 0; j < g; ++j) {
          const int32_t h = kv * g + j;
          float a = attn[(size_t)h * width + t];
          if (plus_) a *= wov[(size_t)h * width + t];
          best = std::max(best, a);
        }
        s[(size_t)kv * n_context + o.begin + t] = best;
      }
  }

  void finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) override {
    if (ratio_ != 0.0) plan_.require_complete(name_);
    GlobalBudgetPress::finish(views, out);
  }

 private:
  int32_t n_sink_;
  bool plus_;
  int32_t chunk_, prefix_length_;
  std::vector<int32_t> repeat_ids_, repeat_part_ids_, suffix_ids_;
  ReconstructionPlan plan_;
};

constexpr int32_t kGateDim = 16;

struct Gate {
  std::vector<float> wq, bq, wk, q_norm, k_norm, bias, sink_keys;
  int32_t group = 0, sinks = 0;
};

class FastKVzipPress : public GlobalBudgetPress {
 public:
  FastKVzipPress(const PressConfig& c, const ModelConfig* model)
      : GlobalBudgetPress(c),
        n_sink_((int32_t)c.integer("nSink", 0)),
        window_size_((int32_t)c.integer("windowSize", 0)),
        window_ratio_(c.number("windowRatio")) {
    Safetensors file = Safetensors::open(c.artefact());
    for (int32_t l = 0;; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      if (!file.has(p + "wq")) break;
      Gate gate;
      std::vector<int64_t> wq_shape, wk_shape, sink_shape, bias_shape;
      gate.wq = file.tensor_f32(p + "wq", wq_shape);
      gate.wk = file.tensor_f32(p + "wk", wk_shape);
      gate.bias = file.tensor_f32(p + "bias", bias_shape);
      gate.sink_keys = file.tensor_f32(p + "sink_keys", sink_shape);
      if (wq_shape.size() != 2 || wk_shape.size() != 2 || bias_shape.size() != 2 || sink_shape.size() != 3 ||
          wk_shape[0] != bias_shape[0] * kGateDim || wq_shape[0] != bias_shape[0] * bias_shape[1] * kGateDim ||
          wq_shape[1] != wk_shape[1] || sink_shape[0] != bias_shape[0] || sink_shape[2] != kGateDim)
        throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": " + p + "* shapes are inconsistent (see artefacts.h)");
      gate.bq = file.tensor_f32(p + "bq", std::vector<int64_t>{wq_shape[0]});
      gate.q_norm = file.tensor_f32(p + "q_norm", std::vector<int64_t>{kGateDim});
      gate.k_norm = file.tensor_f32(p + "k_norm", std::vector<int64_t>{kGateDim});
      gate.group = (int32_t)bias_shape[1];
      gate.sinks = (int32_t)sink_shape[1];
      heads_ = (int32_t)bias_shape[0];
      dim_ = (int32_t)wq_shape[1];
      gates_.push_back(std::move(gate));
    }
    if (gates_.empty()) throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": no layers.0.wq");
    if (model && ((int32_t)gates_.size() != model->n_layers || heads_ != model->n_kv_heads || dim_ != model->hidden ||
                  gates_[0].group != model->n_heads / model->n_kv_heads))
      throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": gates do not match the model's layers / kv-heads / hidden size");
  }
  void compress(LayerView& v, LayerDecision& out) override {
    out.unchanged = true;
    if (ratio_ == 0.0) return;
    if (v.layer >= (int32_t)gates_.size() || heads_ != v.n_kv_heads || dim_ != v.hidden_size)
      throw EngineError(ErrorCode::CorruptFile, name_ + ": gates do not match the model");
    const Gate& gate = gates_[v.layer];
    const int32_t n = v.n, Hk = v.n_kv_heads, D = v.hidden_size, G = gate.group, o = kGateDim, offset = n - v.q;
    std::vector<float> s((size_t)Hk * n, 1.0f);  // slots without a row of X (none in a prefill) stay kept
    std::vector<double> qv((size_t)Hk * G * o), kv((size_t)Hk * o);
    for (int32_t r = 0; r < v.q; ++r) {
      const float* x = v.hidden + (size_t)r * D;
      for (int32_t i = 0; i < Hk * G * o; ++i) {
        double acc = gate.bq[i];
        for (int32_t c = 0; c < D; ++c) acc += (double)gate.wq[(size_t)i * D + c] * x[c];
        qv[i] = acc;
      }
      for (int32_t i = 0; i < Hk * o; ++i) {
        double acc = 0;
        for (int32_t c = 0; c < D; ++c) acc += (double)gate.wk[(size_t)i * D + c] * x[c];
        kv[i] = acc;
      }
      for (int32_t i = 0; i < Hk * G; ++i) rms_norm(qv.data() + (size_t)i * o, gate.q_norm, v);
      for (int32_t i = 0; i < Hk; ++i) rms_norm(kv.data() + (size_t)i * o, gate.k_norm, v);
      for (int32_t h = 0; h < Hk; ++h) {
        double mean = 0;
        for (int32_t j = 0; j < G; ++j) {
          const double* q = qv.data() + ((size_t)h * G + j) * o;
          double logit = 0;
          for (int32_t c = 0; c < o; ++c) logit += kv[(size_t)h * o + c] * q[c];
          logit = logit / 4 + gate.bias[(size_t)h * G + j];
          double denom = 1.0;
          for (int32_t sidx = 0; sidx < gate.sinks; ++sidx) {
            const float* kappa = gate.sink_keys.data() + ((size_t)h * gate.sinks + sidx) * o;
            double sl = 0;
            for (int32_t c = 0; c < o; ++c) sl += kappa[c] * q[c];
            denom += std::exp(sl / 4 - logit);
          }
          mean += 1.0 / denom / G;
        }
        s[(size_t)h * n + offset + r] = (float)mean;
      }
    }
    fill_positions(s, Hk, n, 0, n_sink_, 1.0f);
    // kvpress's recent-window slice: int(n·ratio) tokens below 32000 else windowSize; a zero-length window
    // is the slice [-0:], i.e. everything.
    const int32_t window = n < 32000 ? (int32_t)(n * window_ratio_) : window_size_;
    fill_positions(s, Hk, n, window == 0 ? 0 : n - window, n, 1.0f);
    out.scores = s;
    layer_scores(v.layer) = std::move(s);
  }

 private:
  static void rms_norm(double* x, const std::vector<float>& weight, const LayerView& v) {
    double ms = 0;
    for (int32_t c = 0; c < kGateDim; ++c) ms += x[c] * x[c];
    const double scale = 1.0 / std::sqrt(ms / kGateDim + v.model->config().rms_eps);
    for (int32_t c = 0; c < kGateDim; ++c) x[c] = x[c] * scale * weight[c];
  }

  int32_t n_sink_, window_size_;
  double window_ratio_;
  std::vector<Gate> gates_;
  int32_t heads_ = 0, dim_ = 0;
};

const PressRegistration<KVzipPress> k_vzip_registration("KVzipPress");
const PressRegistration<FastKVzipPress> fast_k_vzip_registration("FastKVzipPress");

}  // namespace

}  // namespace presskv::press
