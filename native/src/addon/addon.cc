// Module entry: each handle type registers its own class/functions (one file per handle).
#include <napi.h>

#include "addon/registry.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  presskv::addon::register_system(env, exports);
  presskv::addon::register_model(env, exports);
  presskv::addon::register_session(env, exports);
  presskv::addon::register_press(env, exports);
  presskv::addon::register_calibrate(env, exports);
  presskv::addon::register_kernels(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(presskv, Init)
