#pragma once
// Reading option objects and arrays that JS passes to the addon. Malformed values throw a JS error
// with code ERR_INVALID_ARGUMENT naming the field.
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/sampler.h"

namespace presskv::addon {

[[noreturn]] void throw_invalid(Napi::Env env, const std::string& message);

// Reads {temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
// penaltyLastN, seed}; absent fields keep SamplingParams' defaults; values are validated.
SamplingParams read_sampling(Napi::Env env, Napi::Value value);

// An Int32Array or an array of integers.
std::vector<int32_t> read_token_ids(Napi::Env env, Napi::Value value, const char* what);
// An array of Uint8Array (byte strings).
std::vector<std::string> read_byte_strings(Napi::Env env, Napi::Value value, const char* what);

// Optional numeric fields of an options object.
bool has_field(Napi::Object object, const char* name);
double read_number(Napi::Env env, Napi::Object object, const char* name, double fallback);
int32_t read_int(Napi::Env env, Napi::Object object, const char* name, int32_t fallback, int32_t min, int32_t max);

// Rethrows a native exception (EngineError or other) as a JS error with its code.
[[noreturn]] void throw_as_js(Napi::Env env, std::exception_ptr error);

}  // namespace presskv::addon
