#pragma once
// Constructors of each press family (one per press class), looked up by name in press-registry.cc.
#include <memory>

#include "press/press.h"

namespace presskv::press {

using PressFactory = std::unique_ptr<Press> (*)(const PressConfig&, const ModelConfig*);

// simple-scorers.cc
std::unique_ptr<Press> make_random(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_knorm(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_keydiff(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_streaming_llm(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_qfilter(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_lagkv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_cur(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_custom_scorer(const PressConfig&, const ModelConfig*);
// attention-scorers.cc
std::unique_ptr<Press> make_snapkv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_pyramidkv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_tova(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_observed_attention(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_finch(const PressConfig&, const ModelConfig*);
// expected-attention.cc (ExpectedAttentionPress and ExpectedAttentionStatsPress)
std::unique_ptr<Press> make_expected_attention(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_cap(const PressConfig&, const ModelConfig*);
// compactor.cc
std::unique_ptr<Press> make_non_causal_attn(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_leverage_score(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_compactor(const PressConfig&, const ModelConfig*);
// kvzap.cc
std::unique_ptr<Press> make_kvzap(const PressConfig&, const ModelConfig*);
// wrappers.cc
std::unique_ptr<Press> make_adakv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_key_rerotation(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_chunkkv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_chunk(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_block(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_merging(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_per_layer_compression(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_composed(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_dms(const PressConfig&, const ModelConfig*);
// critical-kv.cc
std::unique_ptr<Press> make_critical_kv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_critical_adakv(const PressConfig&, const ModelConfig*);
// lukv.cc
std::unique_ptr<Press> make_lukv(const PressConfig&, const ModelConfig*);
// think.cc, simlayerkv.cc, duo-attention.cc
std::unique_ptr<Press> make_think(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_simlayerkv(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_duo_attention(const PressConfig&, const ModelConfig*);
// kvzip.cc, fastkvzip.cc, kvcompose.cc
std::unique_ptr<Press> make_kvzip(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_fastkvzip(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_kvcompose(const PressConfig&, const ModelConfig*);
// decoding.cc
std::unique_ptr<Press> make_decoding(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_prefill_decoding(const PressConfig&, const ModelConfig*);
std::unique_ptr<Press> make_cam(const PressConfig&, const ModelConfig*);

// The single inner press of a wrapper (InvalidArgument when absent / more than one).
std::unique_ptr<Press> make_inner(const PressConfig& wrapper, const ModelConfig* model);
// Same, and requires a ScorerPress (a scorer-only wrapper around a non-scorer is InvalidArgument).
std::unique_ptr<Press> make_inner_scorer(const PressConfig& wrapper, const ModelConfig* model);

}  // namespace presskv::press
