// matmulKernel(): one CPU matmul kernel (portable / avx2 / avx512) on caller-given rows, for tests that
// hold the kernels to their contracts (row i of an m-row product equals the 1-row product bit for bit).
#include <napi.h>

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

// (kernels, x: Float32Array m×k, m, weights: Float32Array | Uint16Array n×k, dtype, n, k) →
// Float32Array m×n, or null when this CPU lacks the named kernels.
Napi::Value matmul_kernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (name != "portable" && name != "avx2" && name != "avx512" && name != "auto")
    throw_invalid(env, "kernels must be 'portable', 'avx2', 'avx512' or 'auto'");
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
  const cpu::KernelTable* kernels = cpu::kernels_named(name.c_str());
  if (!kernels) return env.Null();
  const auto x = info[1].As<Napi::Float32Array>();
  const auto w = info[3].As<Napi::TypedArray>();
  const void* weights = static_cast<const uint8_t*>(w.ArrayBuffer().Data()) + w.ByteOffset();
  auto y = Napi::Float32Array::New(env, size_t(m * n));
  std::vector<float> scratch(size_t(cpu::matmul_scratch_floats(k)));
  kernels->matmul_block(x.Data(), m, k, weights, dt, k, 0, n, y.Data(), n, scratch.data());
  return y;
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulKernel", Napi::Function::New(env, matmul_kernel, "matmulKernel"));
}

}  // namespace presskv::addon
