// Press names → constructors. Entries appear as each family is implemented.
#include <map>

#include "press/press-factories.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

const std::map<std::string, PressFactory>& registry() {
  static const std::map<std::string, PressFactory> table = {
      {"RandomPress", make_random},
      {"KnormPress", make_knorm},
      {"KeyDiffPress", make_keydiff},
      {"StreamingLLMPress", make_streaming_llm},
      {"QFilterPress", make_qfilter},
      {"LagKVPress", make_lagkv},
      {"CURPress", make_cur},
      {"CustomScorerPress", make_custom_scorer},
      {"SnapKVPress", make_snapkv},
      {"PyramidKVPress", make_pyramidkv},
      {"TOVAPress", make_tova},
      {"ObservedAttentionPress", make_observed_attention},
      {"FinchPress", make_finch},
      {"ExpectedAttentionPress", make_expected_attention},
      {"ExpectedAttentionStatsPress", make_expected_attention},
      {"CapPress", make_cap},
      {"NonCausalAttnPress", make_non_causal_attn},
      {"LeverageScorePress", make_leverage_score},
      {"CompactorPress", make_compactor},
      {"KVzapPress", make_kvzap},
      {"AdaKVPress", make_adakv},
      {"KeyRerotationPress", make_key_rerotation},
      {"ChunkKVPress", make_chunkkv},
      {"ChunkPress", make_chunk},
      {"BlockPress", make_block},
      {"MergingPress", make_merging},
      {"PerLayerCompressionPress", make_per_layer_compression},
      {"ComposedPress", make_composed},
      {"DMSPress", make_dms},
      {"CriticalKVPress", make_critical_kv},
      {"CriticalAdaKVPress", make_critical_adakv},
      {"LUKVPress", make_lukv},
      {"ThinKPress", make_think},
      {"SimLayerKVPress", make_simlayerkv},
      {"DuoAttentionPress", make_duo_attention},
      {"KVzipPress", make_kvzip},
      {"FastKVzipPress", make_fastkvzip},
      {"KVComposePress", make_kvcompose},
      {"DecodingPress", make_decoding},
      {"CompressionRatioDecodingPress", make_decoding},
      {"PrefillDecodingPress", make_prefill_decoding},
      {"CAMPress", make_cam},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& press_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : registry()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

std::unique_ptr<Press> create_press(const PressConfig& config, const ModelConfig* model_config) {
  auto it = registry().find(config.name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& name : press_names()) known += (known.empty() ? "" : ", ") + name;
    throw EngineError(ErrorCode::InvalidArgument, "unknown press '" + config.name + "' (known: " + known + ")");
  }
  return it->second(config, model_config);
}

std::unique_ptr<Press> make_inner(const PressConfig& wrapper, const ModelConfig* model) {
  if (wrapper.children.size() != 1) invalid(wrapper.name, "needs exactly one inner press (option 'press')");
  return create_press(wrapper.children[0], model);
}

std::unique_ptr<Press> make_inner_scorer(const PressConfig& wrapper, const ModelConfig* model) {
  std::unique_ptr<Press> inner = make_inner(wrapper, model);
  if (!inner->is_scorer())
    invalid(wrapper.name, "wraps scorer presses only; " + inner->name() + " is not a scorer press");
  return inner;
}

}  // namespace presskv::press
