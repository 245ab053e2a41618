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
// spin this many rounds for the next job before sleeping, so back-to-back jobs skip the futex wake-up.
constexpr int kSpinRounds = 20000;
thread_local bool t_inside_pool_job = false;
}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;
  std::mutex call_mutex;  // one parallel_for at a time per pool

  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  bool stopping = false;

  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0;

  void run_part(int part) {
    const int64_t per = n / n_threads, extra = n % n_threads;
    const int64_t begin = part * per + std::min<int64_t>(part, extra);
    const int64_t end = begin + per + (part < extra ? 1 : 0);
    if (begin < end) {
      t_inside_pool_job = true;
      (*fn)(begin, end);
      t_inside_pool_job = false;
    }
  }

  void worker_loop(int part) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t gen = generation.load(std::memory_order_acquire);
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
      run_part(part);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl()) {
  impl_->n_threads = std::max(1, n_threads);
  for (int i = 1; i < impl_->n_threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
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
  // Small jobs, single-thread pools and calls from inside a job run inline.
  if (impl_->n_threads == 1 || n == 1 || t_inside_pool_job) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(impl_->call_mutex);
  Impl& p = *impl_;
  p.fn = &fn;
  p.n = n;
  p.pending.store(p.n_threads - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.wake.notify_all();
  p.run_part(0);
  for (int i = 0; p.pending.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpinRounds) PRESSKV_CPU_RELAX();
    else std::this_thread::yield();
  }
  p.fn = nullptr;
}

}  // namespace presskv
