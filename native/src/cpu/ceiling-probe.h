#pragma once
// The two ceilings a forward pass can hit on this machine, measured now with a given thread count:
// memory read bandwidth (decode streams the weights and KV) and fp32 FMA throughput (prefill multiplies).
// `presskv bench` reports every figure as a share of these instead of numbers written down once.
#include <cstdint>

namespace presskv::cpu {

struct MeasuredCeilings {
  int threads = 1;
  const char* kernels = "";   // the kernel table that ran the probes
  double read_gb_per_s = 0;   // best of several passes (and prefetch distances) over a buffer far larger than the caches
  double fma_gflop_per_s = 0; // best of several rounds of independent FMA chains on every thread
  int64_t buffer_bytes = 0;
};

// Takes about a second. buffer_bytes: the read probe's buffer (default 512 MiB; ≥ 64 MiB so no cache holds it).
MeasuredCeilings measure_ceilings(int threads, int64_t buffer_bytes = int64_t(512) << 20);

}  // namespace presskv::cpu
