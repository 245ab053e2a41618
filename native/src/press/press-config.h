#pragma once
// A press configuration as the addon builds it from the JS object
//   { name: 'SnapKVPress', options: { windowSize: 64, ... }, press?: <inner>, presses?: [<inner>, ...] }
// Option names are kvpress's, camelCased (compression_ratio → compressionRatio). Numbers and booleans
// land in `numbers` (true = 1), strings in `strings`, numeric arrays in `lists`. An artefact file path
// is the option `artefactPath` (also accepted: path / statsPath).
#include <map>
#include <memory>
#include <optional>
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

  // The TS press class (engine/presses/) is the one source of the options: it validates them and sends every
  // one, defaults filled in. The accessors below hold no second copy of the defaults; an option that is
  // missing or of the wrong type means the config was not made by a press class, an internal error.
  bool has(const std::string& key) const { return numbers.count(key) > 0; }
  double number(const std::string& key) const;
  bool flag(const std::string& key) const { return number(key) != 0.0; }
  const std::string& text(const std::string& key) const;
  const std::vector<double>& list(const std::string& key) const;
  // kvpress's `None` options (seed, blending, a wrapper's optional ratio): absent when unset.
  std::optional<double> optional_number(const std::string& key) const;
  // An integer option >= min_value. The TS schema already bounds it; this guard stays because a count below
  // its minimum would index outside the layer's buffers.
  int64_t integer(const std::string& key, int64_t min_value) const;
  // The artefact file (option `artefactPath`, required by the presses that read one).
  const std::string& artefact() const;
  // ErrorCode::Internal "<press>: <message>".
  [[noreturn]] void internal(const std::string& message) const;
};

}  // namespace presskv::press
