#include "addon/runtime-core.h"

namespace presskv::addon {

RuntimeCore::RuntimeCore(std::shared_ptr<Model> model_in, std::shared_ptr<ThreadPool> pool_in,
                         const RuntimeOptions& options_in)
    : model(std::move(model_in)), pool(std::move(pool_in)), options(options_in) {
  vocab = model->config().vocab;
  forward = options.device >= 0 ? Forward::create_cuda(model, options.device) : Forward::create(model, *pool);
  if (options.decode_batch > 1) decode_batcher = std::make_unique<DecodeBatcher>(forward.get(), size_t(options.decode_batch));
  kv_pool = KvPool::create(options.kv_budget_bytes);
  scheduler = std::make_unique<Scheduler>();
}

RuntimeCore::~RuntimeCore() { shutdown(); }

void RuntimeCore::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  scheduler->stop();
  decode_batcher.reset();
  forward.reset();
}

std::shared_ptr<const Vocabulary> RuntimeCore::vocabulary() const {
  std::lock_guard<std::mutex> lock(vocabulary_mutex_);
  return vocabulary_;
}

void RuntimeCore::set_vocabulary(std::shared_ptr<const Vocabulary> vocabulary) {
  std::lock_guard<std::mutex> lock(vocabulary_mutex_);
  vocabulary_ = std::move(vocabulary);
}

}  // namespace presskv::addon
