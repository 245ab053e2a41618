#include "cpu/ceiling-probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/thread-pool.h"
#include "cpu/kernels.h"

namespace presskv::cpu {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Keeps the probes' results observable so the compiler cannot drop the work.
std::atomic<float> g_sink{0.0f};

}  // namespace

MeasuredCeilings measure_ceilings(int threads, int64_t buffer_bytes) {
  if (threads < 1) throw std::invalid_argument("measure_ceilings: threads must be ≥ 1");
  buffer_bytes = std::max<int64_t>(buffer_bytes, int64_t(64) << 20);
  const KernelTable& kt = kernels();
  ThreadPool pool(threads);
  MeasuredCeilings out;
  out.threads = threads;
  out.kernels = kt.name;

  // The buffer is cut into pieces the pool hands out as it does a matmul's row blocks (contiguous, claimed
  // by whichever thread is free), so a thread that starts late does not leave the others' share idle; whole
  // blocks of read_block floats keep the kernel free of tails.
  const int64_t pieces = int64_t(threads) * 16;
  const int64_t block = kt.read_block;
  const int64_t floats = (buffer_bytes / int64_t(sizeof(float))) / (block * pieces) * (block * pieces);
  out.buffer_bytes = floats * int64_t(sizeof(float));
  std::unique_ptr<float[]> buffer(new float[floats]);
  const int64_t per_piece = floats / pieces;
  pool.parallel_for(pieces, [&](int64_t begin, int64_t end) {
    std::fill(buffer.get() + begin * per_piece, buffer.get() + end * per_piece, 1.0f);
  });
  // The ceiling is the best of three ways to stream: the hardware prefetchers alone, and software prefetch
  // 2 KiB and 8 KiB ahead (which one a CPU likes differs; the matmuls prefetch too).
  double best_read = 1e30;
  for (const int64_t prefetch_bytes : {int64_t(0), int64_t(2048), int64_t(8192)}) {
    for (int pass = 0; pass < 3; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(pieces, [&](int64_t begin, int64_t end) {
        g_sink.store(kt.read_sum(buffer.get() + begin * per_piece, (end - begin) * per_piece, prefetch_bytes),
                     std::memory_order_relaxed);
      });
      best_read = std::min(best_read, seconds_since(t0));
    }
  }
  out.read_gb_per_s = double(out.buffer_bytes) / best_read / 1e9;

  // ~20 ms per round per thread at a few GHz, in 16 pieces a thread: long enough to hide the hand-off,
  // short enough to repeat.
  constexpr int64_t kIterationsPerPiece = int64_t(1) << 18;
  double best_fma = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(pieces, [&](int64_t begin, int64_t end) {
      g_sink.store(kt.fma_chains(kIterationsPerPiece * (end - begin)), std::memory_order_relaxed);
    });
    best_fma = std::min(best_fma, seconds_since(t0));
  }
  out.fma_gflop_per_s = double(kIterationsPerPiece) * double(pieces) * double(kt.fma_flops_per_iteration) / best_fma / 1e9;
  return out;
}

}  // namespace presskv::cpu
