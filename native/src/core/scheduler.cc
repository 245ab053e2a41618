#include "core/scheduler.h"

#include "core/errors.h"

namespace presskv {

Scheduler::Scheduler() : worker_([this] { run(); }) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      job->sequence_ = next_sequence_++;
      ring_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  job->fail(std::make_exception_ptr(EngineError(ErrorCode::InvalidArgument, "the runtime has been disposed")));
}

void Scheduler::abort_lane(const void* lane) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& job : ring_)
    if (job->lane == lane) job->aborted.store(true);
  if (running_ && running_->lane == lane) running_->aborted.store(true);
}

size_t Scheduler::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ring_.size();
}

std::shared_ptr<Job> Scheduler::next_runnable() {
  // A job may run when no older job of its lane is still queued; rotate past blocked ones.
  for (size_t tries = 0; tries < ring_.size(); tries++) {
    auto job = ring_.front();
    ring_.pop_front();
    bool blocked = false;
    for (const auto& other : ring_)
      if (other->lane == job->lane && other->sequence_ < job->sequence_) blocked = true;
    if (!blocked) return job;
    ring_.push_back(std::move(job));
  }
  return nullptr;  // unreachable: the oldest job of any lane is always runnable
}

void Scheduler::run() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !ring_.empty(); });
      if (stopping_) return;
      job = next_runnable();
      if (!job) continue;
      running_ = job;
    }
    bool done = true;
    try {
      done = job->step();
    } catch (...) {
      job->fail(std::current_exception());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    running_.reset();
    if (!done) ring_.push_back(std::move(job));
  }
}

void Scheduler::stop() {
  std::deque<std::shared_ptr<Job>> orphans;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    if (running_) running_->aborted.store(true);
    wake_.notify_all();
  }
  if (worker_.joinable()) {
    // The last owner may let go from inside a job on the worker itself; it must not join itself.
    if (worker_.get_id() == std::this_thread::get_id())
      worker_.detach();
    else
      worker_.join();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    orphans.swap(ring_);
  }
  for (auto& job : orphans)
    job->fail(std::make_exception_ptr(EngineError(ErrorCode::Aborted, "the runtime was disposed before this job ran")));
}

}  // namespace presskv
