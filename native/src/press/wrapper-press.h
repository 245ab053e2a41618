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

 protected:
  std::string name_;
  std::unique_ptr<Press> inner_;
};

}  // namespace presskv::press
