#pragma once
// Press artefact files. Formats (all tensors row-major; F32, F16 or BF16 accepted, read as f32):
//
//   QFilterPress                 safetensors, "q_filters" [L, Hk, d]   (one direction per layer & kv-head)
//   ExpectedAttentionStatsPress  safetensors, "query_mean" [L, H, d], "query_cov" [L, H, d, d] (pre-RoPE queries)
//   DuoAttentionPress            JSON {"sinkSize": int, "recentSize": int, "headScores": number[L][Hk]}
//   KVzapPress                   safetensors, per layer l: "layers.{l}.w1" [O, D] and "layers.{l}.b1" [O];
//                                 MLP variant adds "layers.{l}.w2" [Hk, O], "layers.{l}.b2" [Hk] (GELU between);
//                                 linear: O = Hk and no w2. Output = log-space score per kv-head.
//   FastKVzipPress               safetensors, per layer l: "layers.{l}.wq" [Hk·g·16, D], "layers.{l}.bq" [Hk·g·16],
//                                 "layers.{l}.wk" [Hk·16, D], "layers.{l}.q_norm" [16], "layers.{l}.k_norm" [16],
//                                 "layers.{l}.bias" [Hk, g], "layers.{l}.sink_keys" [Hk, S, 16]
//   LUKVPress                    safetensors, "curve" [99, L, Hk] per-head prune ratios for targets 1 %…99 %
//
// Every offset and size is checked against the file; a missing file is NotFound, anything malformed
// (bad header, missing tensor, wrong shape, out-of-range offsets) is CorruptFile.
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace presskv::press {

class Safetensors {
 public:
  static Safetensors open(const std::string& path);
  bool has(const std::string& name) const;
  // The tensor as f32; shape_out receives its shape. CorruptFile when absent.
  std::vector<float> tensor_f32(const std::string& name, std::vector<int64_t>& shape_out) const;
  // Same, and checks the shape exactly.
  std::vector<float> tensor_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const;

 private:
  std::string path_;
  std::vector<char> bytes_;
  size_t data_start_ = 0;
  JsonValue header_;
};

JsonValue read_json_file(const std::string& path);
std::string shape_text(const std::vector<int64_t>& shape);

}  // namespace presskv::press
