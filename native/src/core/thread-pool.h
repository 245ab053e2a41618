#pragma once
// A fixed pool of worker threads for data-parallel kernels. The calling thread takes part in every
// parallel_for, so a pool of size 1 runs everything inline.
#include <cstdint>
#include <functional>

namespace presskv {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Splits [0, n) into contiguous ranges, runs fn(begin, end) on each and returns when all are done.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace presskv
