// The CPU-only build's answer to "which CUDA devices are there?".
#include "cuda/device-query.h"

#if !ENGINE_HAS_CUDA
namespace presskv {
CudaInfo query_cuda_devices() { return CudaInfo{}; }
}  // namespace presskv
#endif
