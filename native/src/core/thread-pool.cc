#include "core/thread-pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PRESSKV_CPU_RELAX() _mm_pause()
#else
#define PRESSKV_CPU_RELAX() std::this_thread::yield()
#endif

namespace presskv {

namespace {
// Decode calls parallel_for a few hundred times per token, each lasting tens of microseconds: workers
// spin this many rounds (~50 µs) for the next job before sleeping, so back-to-back jobs skip the
// futex wake-up, without burning a core someone else needs when the engine is idle.
constexpr int kSpinRounds = 1000;
// Ranges per thread: a job is cut finer than one range per thread and every participant claims ranges
// until none are left, so a worker the OS has descheduled delays nothing (the others take its share).
constexpr int64_t kRangesPerThread = 4;
thread_local bool t_inside_pool_job = false;
}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;
  std::mutex call_mutex;  // one parallel_for at a time per pool

  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint32_t> generation{0};
  bool stopping = false;

  // The current job. `claim` packs (generation << 32 | next range): a participant may only take a range
  // of the job whose generation it read, so a late worker can never run a finished job's function.
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0;
  std::atomic<int64_t> n_ranges{0};
  std::atomic<uint64_t> claim{0};
  std::atomic<int64_t> done{0};

  void run_ranges(uint32_t gen) {
    uint64_t cur = claim.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(cur >> 32) != gen) return;
      const int64_t r = static_cast<int64_t>(cur & 0xffffffffu);
      if (r >= n_ranges.load(std::memory_order_relaxed)) return;
      if (!claim.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const int64_t nr = n_ranges.load(std::memory_order_relaxed);
      const int64_t per = n / nr, extra = n % nr;
      const int64_t begin = r * per + std::min(r, extra);
      const int64_t end = begin + per + (r < extra ? 1 : 0);
      t_inside_pool_job = true;
      (*fn)(begin, end);
      t_inside_pool_job = false;
      done.fetch_add(1, std::memory_order_acq_rel);
      cur = claim.load(std::memory_order_acquire);
    }
  }

  void worker_loop() {
    uint32_t seen = 0;
    for (;;) {
      uint32_t gen = generation.load(std::memory_order_acquire);
      for (int i = 0; gen == seen && i < kSpinRounds; ++i) {
        PRESSKV_CPU_RELAX();
        gen = generation.load(std::memory_order_acquire);
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || generation.load(std::memory_order_acquire) != seen; });
        if (stopping) return;
        gen = generation.load(std::memory_order_acquire);
      }
      seen = gen;
      run_ranges(gen);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl()) {
  impl_->n_threads = std::max(1, n_threads);
  for (int i = 1; i < impl_->n_threads; ++i) impl_->workers.emplace_back([this] { impl_->worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
  delete impl_;
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  // Single-thread pools, single items and calls from inside a job run inline.
  if (impl_->n_threads == 1 || n == 1 || t_inside_pool_job) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(impl_->call_mutex);
  Impl& p = *impl_;
  const uint32_t gen = p.generation.load(std::memory_order_relaxed) + 1;
  p.fn = &fn;
  p.n = n;
  const int64_t n_ranges = std::min<int64_t>(n, p.n_threads * kRangesPerThread);
  p.n_ranges.store(n_ranges, std::memory_order_relaxed);
  p.done.store(0, std::memory_order_relaxed);
  p.claim.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.generation.store(gen, std::memory_order_release);
  }
  p.wake.notify_all();
  p.run_ranges(gen);
  for (int i = 0; p.done.load(std::memory_order_acquire) != n_ranges; ++i) {
    if (i < kSpinRounds) PRESSKV_CPU_RELAX();
    else std::this_thread::yield();
  }
  // Close the job before the next one rewrites its fields: a worker still holding this generation then
  // fails its claim instead of reading the next job's range count.
  p.claim.store((static_cast<uint64_t>(gen) << 32) | 0xffffffffu, std::memory_order_release);
}

}  // namespace presskv
