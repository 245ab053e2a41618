#pragma once
// One worker thread that runs the jobs of every sequence of a runtime. Jobs advance ONE bounded step at
// a time (a prefill chunk, a decode token) in round-robin order, so concurrent requests all make
// progress and none starves. Jobs of the same lane (one sequence) run strictly in submission order,
// one at a time, so a sequence's state is only ever touched by its current job.
//
// Batching: when the job whose turn it is can take its step together with others (a decode token:
// Job::batcher()), the other runnable jobs of that batcher join it, up to the batcher's cap, and all
// take one step in one call (one forward pass for all their tokens). Each member used its turn, so the
// members go to the back of the ring together and other jobs (prefill chunks) keep their turns.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace presskv {

class Job;

// What one job's step came to inside a batch: finished (done), failed (error), or neither (continue).
struct StepOutcome {
  bool done = false;
  std::exception_ptr error;
};

// Runs one step of several jobs in a single call. Called on the worker thread.
class StepBatcher {
 public:
  virtual ~StepBatcher() = default;
  virtual size_t max_jobs() const = 0;
  // outcomes has jobs.size() entries, default-constructed; the batcher fills each, a failure in the
  // job's own outcome (it must not throw for one job: an exception fails every job of the batch).
  virtual void step_together(const std::vector<Job*>& jobs, std::vector<StepOutcome>& outcomes) = 0;
};

class Job {
 public:
  virtual ~Job() = default;
  // Runs one step on the worker thread; returns true when the job has finished and reported its
  // result. An exception from step() finishes the job: the scheduler passes it to fail().
  virtual bool step() = 0;
  // Reports a failure; called at most once, on the worker thread (or on the stopping thread for jobs
  // that never ran when the scheduler shuts down).
  virtual void fail(std::exception_ptr error) = 0;
  // The batcher that can run this job's next step together with other jobs' steps, or null (step()
  // runs alone). Asked on the worker thread, between steps.
  virtual StepBatcher* batcher() { return nullptr; }

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
  // Caller holds mutex_. The next job whose turn it is (taken out of ring_), with the runnable jobs
  // that share its batcher; empty when nothing can run.
  std::vector<std::shared_ptr<Job>> next_runnable();
  bool blocked(const Job& job) const;  // an older job of its lane is still queued
  void run_steps(std::vector<std::shared_ptr<Job>>& jobs, std::vector<bool>& done);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> ring_;  // round-robin order; the front runs next if runnable
  std::vector<std::shared_ptr<Job>> running_;  // the jobs whose step is executing (not in ring_)
  uint64_t next_sequence_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace presskv
