#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace presskv {

struct CudaDevice {
  std::string name;
  int compute_capability;  // major*10 + minor
  size_t total_memory;
};

struct CudaInfo {
  bool compiled = false;  // false when the addon was built without nvcc
  int runtime_version = 0;
  std::string error;      // why no device could be queried (e.g. no driver), empty on success
  std::vector<CudaDevice> devices;
};

CudaInfo query_cuda_devices();

}  // namespace presskv
