// matmulKernel() / softmaxKernel(): one CPU kernel (portable / avx2 / avx512) on caller-given data, for tests
// that hold the kernels to their contracts (row i of an m-row product equals the 1-row product bit for bit;
// SIMD attention weights match the portable reference).
#include <napi.h>

#include <algorithm>
#include <vector>

#include "addon/js-options.h"
#include "addon/registry.h"
#include "cpu/kernels.h"

namespace presskv::addon {
namespace {

int64_t read_dim(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsNumber()) throw_invalid(env, std::string(name) + " must be a positive integer");
  const double v = value.As<Napi::Number>().DoubleValue();
  if (!(v >= 1 && v <= (1 << 24)) || double(int64_t(v)) != v)
    throw_invalid(env, std::string(name) + " must be an integer in [1, 16777216]");
  return int64_t(v);
}

const cpu::KernelTable* named_kernels(Napi::Env env, Napi::Value value) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name != "portable" && name != "avx2" && name != "avx512" && name != "auto")
    throw_invalid(env, "kernels must be 'portable', 'avx2', 'avx512' or 'auto'");
  return cpu::kernels_named(name.c_str());
}

// (kernels, x: Float32Array m×k, m, weights: Float32Array | Uint16Array n×k, dtype, n, k) →
// Float32Array m×n, or null when this CPU lacks the named kernels.
Napi::Value matmul_kernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cpu::KernelTable* kernels = named_kernels(env, info[0]);
  const int64_t m = read_dim(env, info[2], "m"), n = read_dim(env, info[5], "n"), k = read_dim(env, info[6], "k");
  const std::string dtype = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  DType dt;
  napi_typedarray_type want;
  if (dtype == "f32") dt = DType::F32, want = napi_float32_array;
  else if (dtype == "f16") dt = DType::F16, want = napi_uint16_array;
  else if (dtype == "bf16") dt = DType::BF16, want = napi_uint16_array;
  else throw_invalid(env, "dtype must be 'f32', 'f16' or 'bf16'");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      info[1].As<Napi::TypedArray>().ElementLength() != size_t(m * k))
    throw_invalid(env, "x must be a Float32Array of m*k values");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != want ||
      info[3].As<Napi::TypedArray>().ElementLength() != size_t(n * k))
    throw_invalid(env, "weights must be a " + std::string(dt == DType::F32 ? "Float32Array" : "Uint16Array") +
                           " of n*k values");
  if (!kernels) return env.Null();
  const auto x = info[1].As<Napi::Float32Array>();
  const auto w = info[3].As<Napi::TypedArray>();
  const void* weights = static_cast<const uint8_t*>(w.ArrayBuffer().Data()) + w.ByteOffset();
  auto y = Napi::Float32Array::New(env, size_t(m * n));
  std::vector<float> scratch(size_t(cpu::matmul_scratch_floats(k)));
  kernels->matmul_block(x.Data(), m, k, weights, dt, k, 0, n, y.Data(), n, scratch.data());
  return y;
}

// (kernels, scores: Float32Array, max, roundToF16) → the attention weights (a new Float32Array), or null
// when this CPU lacks the named kernels.
Napi::Value softmax_kernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cpu::KernelTable* kernels = named_kernels(env, info[0]);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      info[1].As<Napi::TypedArray>().ElementLength() == 0)
    throw_invalid(env, "scores must be a non-empty Float32Array");
  if (!info[2].IsNumber()) throw_invalid(env, "max must be a number");
  if (!kernels) return env.Null();
  const auto scores = info[1].As<Napi::Float32Array>();
  auto out = Napi::Float32Array::New(env, scores.ElementLength());
  std::copy(scores.Data(), scores.Data() + scores.ElementLength(), out.Data());
  kernels->softmax_shifted(out.Data(), int64_t(out.ElementLength()), info[2].As<Napi::Number>().FloatValue(),
                           info[3].ToBoolean().Value());
  return out;
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulKernel", Napi::Function::New(env, matmul_kernel, "matmulKernel"));
  exports.Set("softmaxKernel", Napi::Function::New(env, softmax_kernel, "softmaxKernel"));
}

}  // namespace presskv::addon
