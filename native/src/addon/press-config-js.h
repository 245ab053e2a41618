#pragma once
// The press config as JS hands it to the addon, → press::PressConfig (press/press-config.h):
//   { name: 'SnapKVPress', options?: { camelCase: number | boolean | string | number[] | <press> },
//     press?: <press>, presses?: [<press>...], score?: (layer) => scores }
// Option 'path' / 'statsPath' / 'artefactPath' becomes artefact_path; a wrapper's inner press may be
// `press` or `options.press`. Malformed shapes → EngineError(InvalidArgument). A `score` function
// (CustomScorerPress) becomes an ExternalScorer that calls it synchronously — valid on the JS thread only;
// worker-thread users replace it (see session-press-job.cc).
#include <napi.h>

#include "press/press-config.h"
#include "press/press.h"

namespace presskv::addon {

press::PressConfig parse_press_config(const Napi::Value& value);

// Copies of native arrays as JS typed arrays (callbacks may keep what they receive).
Napi::Float32Array float_copy(Napi::Env env, const float* data, size_t count);
Napi::Int32Array int_copy(Napi::Env env, const int32_t* data, size_t count);

// The argument of CustomScorerPress's score(layer), and its checked result (one score per (kv-head, slot)),
// shared by the JS-thread scorer here and the worker-thread one in session-press-job.cc.
Napi::Object scorer_layer_object(Napi::Env env, const press::LayerView& v, const std::vector<float>& window_queries,
                                 int32_t window);
std::vector<float> scores_from_js(const Napi::Value& result);

}  // namespace presskv::addon
