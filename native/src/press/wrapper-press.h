#pragma once
// Base of the wrappers: one inner press; the compression ratio lives in the inner press as in kvpress
// (a `compressionRatio` option on the wrapper itself overrides the inner one).
#include <memory>
#include <string>

#include "press/press.h"

namespace presskv::press {

class WrapperPress : public Press {
 public:
  WrapperPress(const PressConfig& config, std::unique_ptr<Press> inner);
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Wrapper; }
  double compression_ratio() const override { return inner_->compression_ratio(); }
  void set_compression_ratio(double r) override { inner_->set_compression_ratio(r); }
  void validate(int32_t n_context) const override { inner_->validate(n_context); }
  void begin(int32_t n_layers) override { inner_->begin(n_layers); }
  void copy_sequence_state(const Press& from) override {
    Press::copy_sequence_state(from);
    inner_->copy_sequence_state(*same_press_as<WrapperPress>(from).inner_);
  }

 protected:
  std::string name_;
  std::unique_ptr<Press> inner_;
};

// A wrapper around a scorer (config `press`) that removes a fraction of the cache: at ratio 0 it leaves the
// layer unchanged, otherwise compress_at decides with the ratio.
class RatioWrapperPress : public WrapperPress {
 public:
  RatioWrapperPress(const PressConfig& config, const ModelConfig* model);
  void compress(LayerView& view, LayerDecision& out) final {
    const double ratio = compression_ratio();
    if (ratio == 0.0) {
      out.unchanged = true;
      return;
    }
    compress_at(view, out, ratio);
  }

 protected:
  virtual void compress_at(LayerView& view, LayerDecision& out, double ratio) = 0;
};

}  // namespace presskv::press
