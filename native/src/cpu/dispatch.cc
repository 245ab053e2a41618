#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"

namespace presskv::cpu {
namespace {

int cpu_level() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
#endif
  return 0;
}

const KernelTable* table_for(int level) {
#if defined(__x86_64__) || defined(_M_X64)
  if (level >= 2) return &avx512_kernels();
  if (level == 1) return &avx2_kernels();
#endif
  (void)level;
  return &portable_kernels();
}

int level_named(const char* name) {
  if (!name || !*name || std::strcmp(name, "auto") == 0) return 99;
  if (std::strcmp(name, "portable") == 0) return 0;
  if (std::strcmp(name, "avx2") == 0) return 1;
  if (std::strcmp(name, "avx512") == 0) return 2;
  return -1;
}

std::atomic<const KernelTable*> g_table{nullptr};

}  // namespace

const KernelTable* kernels_named(const char* name) {
  const int wanted = level_named(name);
  const int have = cpu_level();
  if (wanted < 0 || (wanted != 99 && wanted > have)) return nullptr;
  return table_for(wanted == 99 ? have : wanted);
}

bool select_kernels(const char* name) {
  const KernelTable* table = kernels_named(name);
  if (!table) return false;
  g_table.store(table);
  return true;
}

const KernelTable& kernels() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (t) return *t;
  if (!select_kernels(std::getenv("PRESSKV_SIMD"))) select_kernels("auto");
  return *g_table.load();
}

void matmul(ThreadPool& pool, const float* x, int64_t m, int64_t ldx, const void* w, DType wt, int64_t n, int64_t k,
            float* y, int64_t ldy) {
  const KernelTable& kt = kernels();
  // Blocks of 16 output rows: enough work per task to hide the hand-off, enough tasks to balance.
  constexpr int64_t kRowsPerTask = 16;
  const int64_t tasks = (n + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t scratch_floats = matmul_scratch_floats(k);
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < scratch_floats) scratch.resize(scratch_floats);
    const int64_t n0 = begin * kRowsPerTask, n1 = std::min(n, end * kRowsPerTask);
    kt.matmul_block(x, m, ldx, w, wt, k, n0, n1, y, ldy, scratch.data());
  };
  // Below ~10 µs of work the hand-off to other threads costs more than it saves.
  if (m * n * k < kMinParallelMacs) run(0, tasks);
  else pool.parallel_for(tasks, run);
}

}  // namespace presskv::cpu
