#pragma once
// A press configuration as the addon builds it from the JS object
//   { name: 'SnapKVPress', options: { windowSize: 64, ... }, press?: <inner>, presses?: [<inner>, ...] }
// Option names are kvpress's, camelCased (compression_ratio → compressionRatio). Numbers and booleans
// land in `numbers` (true = 1), strings in `strings`, numeric arrays in `lists`. An artefact file path
// is the option `path` (also accepted: statsPath / artefactPath).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"

namespace presskv::press {

struct LayerView;

// A scorer implemented outside the native library (CustomScorerPress: a TypeScript callback). Gets the
// layer and the queries of its last `window` rows of X (q-norm + RoPE applied, [H, window, d]) and
// fills scores [Hk·n], higher = keep. The addon implements it; calls come from the thread running the
// press, so an implementation over a JS function must marshal to the JS thread when that differs.
class ExternalScorer {
 public:
  virtual ~ExternalScorer() = default;
  virtual void score(const LayerView& view, const std::vector<float>& window_queries, int32_t window,
                     std::vector<float>& scores) = 0;
};

struct PressConfig {
  std::string name;
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<double>> lists;
  std::vector<PressConfig> children;
  std::string artefact_path;
  std::shared_ptr<ExternalScorer> external_scorer;  // CustomScorerPress only

  bool has(const std::string& key) const { return numbers.count(key) > 0; }
  double number(const std::string& key, double fallback) const {
    auto it = numbers.find(key);
    return it == numbers.end() ? fallback : it->second;
  }
  bool flag(const std::string& key, bool fallback) const {
    auto it = numbers.find(key);
    return it == numbers.end() ? fallback : it->second != 0.0;
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    auto it = strings.find(key);
    return it == strings.end() ? fallback : it->second;
  }
  // An integer option >= min_value (InvalidArgument otherwise).
  int64_t integer(const std::string& key, int64_t fallback, int64_t min_value) const {
    double v = number(key, (double)fallback);
    if (v != (double)(int64_t)v || v < (double)min_value) {
      throw EngineError(ErrorCode::InvalidArgument, name + ": option '" + key + "' must be an integer >= " +
                                                        std::to_string(min_value) + ", got " + std::to_string(v));
    }
    return (int64_t)v;
  }
};

}  // namespace presskv::press
