// KVzapPress (kvpress-spec §2.15): a per-layer linear or 2-layer MLP surrogate maps each token's
// attention input X_t to one log-space score per kv-head. Artefact format: see press/artefacts.h.
#include <cmath>

#include "press/artefacts.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

struct SurrogateLayer {
  std::vector<float> w1, b1, w2, b2;
  int32_t hidden_units = 0;  // O
};

class KVzapPress : public ScorerPress {
 public:
  KVzapPress(const PressConfig& c, const ModelConfig* model) : ScorerPress(c) {
    mlp_ = c.text("modelType") == "mlp";  // the schema allows 'mlp' and 'linear'
    Safetensors file = Safetensors::open(c.artefact());
    for (int32_t l = 0;; ++l) {
      const std::string prefix = "layers." + std::to_string(l) + ".";
      if (!file.has(prefix + "w1")) break;
      SurrogateLayer layer;
      std::vector<int64_t> shape;
      layer.w1 = file.tensor_f32(prefix + "w1", shape);
      if (shape.size() != 2) throw EngineError(ErrorCode::CorruptFile, name_ + ": " + prefix + "w1 must be [O, D]");
      layer.hidden_units = (int32_t)shape[0];
      dim_ = (int32_t)shape[1];
      layer.b1 = file.tensor_f32(prefix + "b1", std::vector<int64_t>{shape[0]});
      if (mlp_) {
        std::vector<int64_t> out_shape;
        layer.w2 = file.tensor_f32(prefix + "w2", out_shape);
        if (out_shape.size() != 2 || out_shape[1] != shape[0])
          throw EngineError(ErrorCode::CorruptFile, name_ + ": " + prefix + "w2 must be [Hk, O]");
        heads_ = (int32_t)out_shape[0];
        layer.b2 = file.tensor_f32(prefix + "b2", std::vector<int64_t>{out_shape[0]});
      } else {
        heads_ = layer.hidden_units;
      }
      layers_.push_back(std::move(layer));
    }
    if (layers_.empty()) throw EngineError(ErrorCode::CorruptFile, name_ + ": " + c.artefact_path + " has no layers.0.w1");
    if (model && ((int32_t)layers_.size() != model->n_layers || dim_ != model->hidden || heads_ != model->n_kv_heads))
      throw EngineError(ErrorCode::CorruptFile, name_ + ": surrogate has " + std::to_string(layers_.size()) + " layers of [" +
                                                    std::to_string(dim_) + " → " + std::to_string(heads_) +
                                                    "], the model needs " + std::to_string(model->n_layers) + " of [" +
                                                    std::to_string(model->hidden) + " → " + std::to_string(model->n_kv_heads) + "]");
  }
  bool token_local() const override { return true; }

  // Slots without a row of X (older cache during decoding) are kept: they get max + 1.
  void score(const LayerView& v, std::vector<float>& s) override {
    if (v.layer >= (int32_t)layers_.size() || dim_ != v.hidden_size || heads_ != v.n_kv_heads)
      throw EngineError(ErrorCode::CorruptFile, name_ + ": surrogate shape does not match the model");
    const SurrogateLayer& L = layers_[v.layer];
    const int32_t D = v.hidden_size, Hk = v.n_kv_heads, O = L.hidden_units, offset = v.n - v.q;
    s.assign((size_t)Hk * v.n, NAN);
    std::vector<double> mid(O);
    for (int32_t r = 0; r < v.q; ++r) {
      const float* x = v.hidden + (size_t)r * D;
      for (int32_t o = 0; o < O; ++o) {
        double acc = L.b1[o];
        for (int32_t i = 0; i < D; ++i) acc += (double)L.w1[(size_t)o * D + i] * x[i];
        mid[o] = mlp_ ? 0.5 * acc * (1.0 + std::erf(acc / std::sqrt(2.0))) : acc;
      }
      for (int32_t h = 0; h < Hk; ++h) {
        double out = mid[h];
        if (mlp_) {
          out = L.b2[h];
          for (int32_t o = 0; o < O; ++o) out += (double)L.w2[(size_t)h * O + o] * mid[o];
        }
        s[(size_t)h * v.n + offset + r] = (float)out;
      }
    }
    if (offset > 0) {
      const float top = max_score(s.data(), (int64_t)s.size()) + 1.0f;
      fill_positions(s, Hk, v.n, 0, offset, top);
    }
  }

 private:
  bool mlp_ = true;
  int32_t dim_ = 0, heads_ = 0;
  std::vector<SurrogateLayer> layers_;
};

const PressRegistration<KVzapPress> k_vzap_registration("KVzapPress");

}  // namespace

}  // namespace presskv::press
