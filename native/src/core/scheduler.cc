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
  for (auto& job : running_)
    if (job->lane == lane) job->aborted.store(true);
}

size_t Scheduler::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ring_.size();
}

bool Scheduler::blocked(const Job& job) const {
  for (const auto& other : ring_)
    if (other->lane == job.lane && other->sequence_ < job.sequence_) return true;
  return false;
}

std::vector<std::shared_ptr<Job>> Scheduler::next_runnable() {
  // A job may run when no older job of its lane is still queued; rotate past blocked ones.
  std::vector<std::shared_ptr<Job>> jobs;
  for (size_t tries = 0; tries < ring_.size() && jobs.empty(); tries++) {
    auto job = ring_.front();
    ring_.pop_front();
    if (blocked(*job))
      ring_.push_back(std::move(job));
    else
      jobs.push_back(std::move(job));
  }
  if (jobs.empty()) return jobs;  // unreachable: the oldest job of any lane is always runnable
  StepBatcher* batcher = jobs[0]->batcher();
  if (!batcher) return jobs;
  // Every runnable job of the same batcher joins, in ring order (distinct lanes: a lane's only runnable
  // job is its oldest).
  for (auto it = ring_.begin(); it != ring_.end() && jobs.size() < batcher->max_jobs();) {
    if ((*it)->batcher() == batcher && !blocked(**it)) {
      jobs.push_back(std::move(*it));
      it = ring_.erase(it);
    } else {
      ++it;
    }
  }
  return jobs;
}

void Scheduler::run_steps(std::vector<std::shared_ptr<Job>>& jobs, std::vector<bool>& done) {
  done.assign(jobs.size(), true);
  if (jobs.size() == 1) {
    try {
      done[0] = jobs[0]->step();
    } catch (...) {
      jobs[0]->fail(std::current_exception());
    }
    return;
  }
  std::vector<Job*> members;
  for (auto& job : jobs) members.push_back(job.get());
  std::vector<StepOutcome> outcomes(jobs.size());
  try {
    jobs[0]->batcher()->step_together(members, outcomes);
  } catch (...) {
    for (auto& outcome : outcomes) outcome = {true, std::current_exception()};
  }
  for (size_t i = 0; i < jobs.size(); i++) {
    if (outcomes[i].error) jobs[i]->fail(outcomes[i].error);
    done[i] = outcomes[i].done || outcomes[i].error;
  }
}

void Scheduler::run() {
  std::vector<bool> done;
  for (;;) {
    std::vector<std::shared_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !ring_.empty(); });
      if (stopping_) return;
      jobs = next_runnable();
      if (jobs.empty()) continue;
      running_ = jobs;
    }
    run_steps(jobs, done);
    std::lock_guard<std::mutex> lock(mutex_);
    running_.clear();
    for (size_t i = 0; i < jobs.size(); i++)
      if (!done[i]) ring_.push_back(std::move(jobs[i]));
  }
}

void Scheduler::stop() {
  std::deque<std::shared_ptr<Job>> orphans;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& job : running_) job->aborted.store(true);
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
