// systemInfo(): what this machine and this build can use (CPU SIMD features, CUDA devices).
#include <napi.h>

#include "addon/js-options.h"
#include "addon/registry.h"
#include "cpu/ceiling-probe.h"
#include "cuda/device-query.h"

namespace presskv::addon {
namespace {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512bf16 = false;
};

CpuFeatures detect_cpu() {
  CpuFeatures f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  // f16c and avx512bf16 are not names every compiler's __builtin_cpu_supports knows: ask cpuid.
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  f.f16c = (c >> 29) & 1;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
  f.avx512bf16 = f.avx512f && ((a >> 5) & 1);
#endif
  return f;
}

Napi::Value system_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures cpu = detect_cpu();
  Napi::Object cpu_js = Napi::Object::New(env);
  cpu_js.Set("avx2", cpu.avx2);
  cpu_js.Set("fma", cpu.fma);
  cpu_js.Set("f16c", cpu.f16c);
  cpu_js.Set("avx512f", cpu.avx512f);
  cpu_js.Set("avx512bf16", cpu.avx512bf16);

  const CudaInfo cuda = query_cuda_devices();
  Napi::Object cuda_js = Napi::Object::New(env);
  cuda_js.Set("compiled", cuda.compiled);
  cuda_js.Set("runtimeVersion", Napi::Number::New(env, cuda.runtime_version));
  cuda_js.Set("error", cuda.error.empty() ? env.Null() : Napi::String::New(env, cuda.error));
  Napi::Array devices = Napi::Array::New(env, cuda.devices.size());
  for (size_t i = 0; i < cuda.devices.size(); i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", cuda.devices[i].name);
    d.Set("computeCapability", Napi::Number::New(env, cuda.devices[i].compute_capability / 10.0));
    d.Set("totalMemory", Napi::Number::New(env, double(cuda.devices[i].total_memory)));
    devices.Set(uint32_t(i), d);
  }
  cuda_js.Set("devices", devices);

  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu_js);
  out.Set("cuda", cuda_js);
  return out;
}

// measureCeilings(threads) → { threads, kernels, readGBPerSecond, fmaGFlopPerSecond, bufferBytes }. Blocks for
// about half a second: it is a benchmark's first step, not something to run while serving.
Napi::Value measure_ceilings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double threads = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(threads >= 1 && threads <= 1024) || double(int(threads)) != threads)
    throw_invalid(env, "measureCeilings: threads must be an integer in [1, 1024]");
  const cpu::MeasuredCeilings c = cpu::measure_ceilings(int(threads));
  Napi::Object out = Napi::Object::New(env);
  out.Set("threads", Napi::Number::New(env, c.threads));
  out.Set("kernels", Napi::String::New(env, c.kernels));
  out.Set("readGBPerSecond", Napi::Number::New(env, c.read_gb_per_s));
  out.Set("fmaGFlopPerSecond", Napi::Number::New(env, c.fma_gflop_per_s));
  out.Set("bufferBytes", Napi::Number::New(env, double(c.buffer_bytes)));
  return out;
}

}  // namespace

void register_system(Napi::Env env, Napi::Object exports) {
  exports.Set("systemInfo", Napi::Function::New(env, system_info, "systemInfo"));
  exports.Set("measureCeilings", Napi::Function::New(env, measure_ceilings, "measureCeilings"));
}

}  // namespace presskv::addon
