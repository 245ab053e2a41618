#pragma once
// Base of every ScorerPress: a compression ratio, a score() and the default per-head top-k selection.
#include <string>

#include "press/press.h"

namespace presskv::press {

class ScorerPress : public Press {
 public:
  explicit ScorerPress(const PressConfig& config);
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Scorer; }
  bool is_scorer() const override { return true; }
  double compression_ratio() const override { return ratio_; }
  void set_compression_ratio(double r) override { ratio_ = r; }
  void compress(LayerView& view, LayerDecision& out) override;

 protected:
  std::string name_;
  double ratio_ = 0.0;
};

// Checks 0 <= r < 1 (InvalidArgument naming the press otherwise).
double checked_ratio(const PressConfig& config, const char* key = "compressionRatio", bool allow_one = false);
// InvalidArgument "<press>: <message>".
[[noreturn]] void invalid(const std::string& press, const std::string& message);

}  // namespace presskv::press
