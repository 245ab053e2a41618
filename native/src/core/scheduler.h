#pragma once
// One worker thread that runs the jobs of every sequence of a runtime. Jobs advance ONE bounded step at
// a time (a prefill chunk, a decode token) in round-robin order, so concurrent requests all make
// progress and none starves. Jobs of the same lane (one sequence) run strictly in submission order,
// one at a time, so a sequence's state is only ever touched by its current job.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace presskv {

class Job {
 public:
  virtual ~Job() = default;
  // Runs one step on the worker thread; returns true when the job has finished and reported its
  // result. An exception from step() finishes the job: the scheduler passes it to fail().
  virtual bool step() = 0;
  // Reports a failure; called at most once, on the worker thread (or on the stopping thread for jobs
  // that never ran when the scheduler shuts down).
  virtual void fail(std::exception_ptr error) = 0;

  // Set by abort(); steps check it (and hand it to the forward pass) to stop within one step.
  std::atomic<bool> aborted{false};
  const void* lane = nullptr;

 private:
  friend class Scheduler;
  uint64_t sequence_ = 0;
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void submit(std::shared_ptr<Job> job);
  // Flags every queued or running job of the lane; each finishes at its next step.
  void abort_lane(const void* lane);
  // Fails every queued job with ERR_ABORTED, lets the running step finish, joins the worker.
  void stop();
  size_t pending() const;

 private:
  void run();
  std::shared_ptr<Job> next_runnable();  // caller holds mutex_

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> ring_;  // round-robin order; the front runs next if runnable
  std::shared_ptr<Job> running_;           // the job whose step is executing (not in ring_)
  uint64_t next_sequence_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace presskv
