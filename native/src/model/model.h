#pragma once
// A loaded model: memory-mapped weights (never copied, except tiny norm/bias vectors to f32) checked
// against the config. Immutable after load and shared by every session.
#include <memory>
#include <string>

#include "model/model-spec.h"

namespace presskv {

struct LoadOptions {
  // false: read the files into private memory instead of mapping them (core/mmap-file.h says when).
  bool mmap = true;
};

class Model {
 public:
  // Maps spec.files, checks every tensor's presence, dtype, shape, offset and size (CorruptFile /
  // UnsupportedDtype / UnsupportedArchitecture / NotFound on failure).
  static std::shared_ptr<Model> load(const ModelSpec& spec);
  static std::shared_ptr<Model> load(const ModelSpec& spec, const LoadOptions& options);
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual size_t weight_bytes() const = 0;
  // Stable hash of the config and the weight bytes' identity (sizes + sampled content).
  virtual std::string fingerprint() const = 0;
};

}  // namespace presskv
