#pragma once
#include <napi.h>

namespace presskv::addon {
void register_system(Napi::Env env, Napi::Object exports);   // system-info.cc: cpu features, CUDA devices
void register_model(Napi::Env env, Napi::Object exports);    // model-handle.cc: loadModel → Model handle
void register_session(Napi::Env env, Napi::Object exports);  // session-handle.cc: sequences, eval, generate
void register_press(Napi::Env env, Napi::Object exports);    // press-handle.cc: scorePressLayer, pressNames
void register_calibrate(Napi::Env env, Napi::Object exports);  // calibrate-handle.cc: calibrate (presskv calibrate)
void register_kernels(Napi::Env env, Napi::Object exports);    // kernel-probe.cc: matmulKernel (kernel tests)
}  // namespace presskv::addon
