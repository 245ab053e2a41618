// Reports the CUDA devices the runtime can see. Linked with the static cudart, so a machine without
// a driver or GPU loads the addon and gets an error string back instead of a failed dlopen.
#include <cuda_runtime.h>
#include <string>
#include <vector>

#include "cuda/device-query.h"

namespace presskv {

CudaInfo query_cuda_devices() {
  CudaInfo info;
  info.compiled = true;
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  info.runtime_version = runtime;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.error = cudaGetErrorString(err);
    cudaGetLastError();
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    info.devices.push_back({prop.name, prop.major * 10 + prop.minor, static_cast<size_t>(prop.totalGlobalMem)});
  }
  return info;
}

}  // namespace presskv
