#pragma once
// Base of the presses that score every (layer, kv-head, slot) and decide once every layer is scored
// (KVzip, FastKVzip, KVCompose): the whole uncompressed context cache exists until finish().
#include <string>
#include <vector>

#include "press/press.h"

namespace presskv::press {

class CrossLayerPress : public Press {
 public:
  explicit CrossLayerPress(const PressConfig& config);
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  double compression_ratio() const override { return ratio_; }
  void set_compression_ratio(double r) override { ratio_ = r; }
  bool defers_to_finish() const override { return true; }
  void begin(int32_t n_layers) override;

 protected:
  // True when ratio > 0 and every layer holds [Hk·n] scores; otherwise `out` keeps every slot.
  bool ready_to_decide(const std::vector<LayerView>& views, std::vector<LayerDecision>& out) const;
  std::vector<float>& layer_scores(int32_t layer);

  std::string name_;
  double ratio_;
  std::vector<std::vector<float>> scores_;  // per layer [Hk·n]
};

// KVzip / FastKVzip: keep the top (1 − r) of all (layer, head, slot) scores (or per layer when
// layerwise), each head keeping its own slots.
class GlobalBudgetPress : public CrossLayerPress {
 public:
  explicit GlobalBudgetPress(const PressConfig& config);
  void finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) override;

 protected:
  bool layerwise_;
};

}  // namespace presskv::press
