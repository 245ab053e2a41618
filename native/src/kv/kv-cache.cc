#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/errors.h"
#include "cpu/kernels.h"
#include "kv/paged-kv-cache.h"

namespace presskv {

class KvPoolImpl final : public KvPool {
 public:
  explicit KvPoolImpl(size_t budget) : budget_(budget) {}
  size_t bytes_in_use() const override { return in_use_.load(); }
  size_t budget_bytes() const override { return budget_; }

  void reserve(size_t bytes) {
    size_t cur = in_use_.load();
    do {
      if (budget_ && cur + bytes > budget_)
        throw EngineError(ErrorCode::OutOfMemory, "KV cache budget exhausted: " + std::to_string(cur) + " of " +
                                                      std::to_string(budget_) + " bytes in use, a new page needs " +
                                                      std::to_string(bytes));
    } while (!in_use_.compare_exchange_weak(cur, cur + bytes));
  }
  void release(size_t bytes) { in_use_.fetch_sub(bytes); }

 private:
  size_t budget_;
  std::atomic<size_t> in_use_{0};
};

std::shared_ptr<KvPool> KvPool::create(size_t budget_bytes) { return std::make_shared<KvPoolImpl>(budget_bytes); }

KvPage::KvPage(std::shared_ptr<KvPoolImpl> pool, size_t bytes) : pool_(std::move(pool)), bytes_(bytes) {
  pool_->reserve(bytes_);
  data_.reset(new (std::nothrow) uint8_t[bytes_]);
  if (!data_) {
    pool_->release(bytes_);
    throw EngineError(ErrorCode::OutOfMemory, "cannot allocate a KV page of " + std::to_string(bytes_) + " bytes");
  }
}

KvPage::~KvPage() { pool_->release(bytes_); }

PagedKvCache::PagedKvCache(const ModelConfig& config, std::shared_ptr<KvPool> pool, const KvCacheOptions& options)
    : pool_(std::dynamic_pointer_cast<KvPoolImpl>(pool)),
      dtype_(options.dtype),
      n_layers_(config.n_layers),
      n_kv_heads_(config.n_kv_heads),
      head_dim_(config.head_dim),
      page_tokens_(options.page_tokens),
      max_tokens_(options.max_tokens > 0 ? options.max_tokens : config.context_length) {
  if (!pool_) throw EngineError(ErrorCode::InvalidArgument, "KV cache needs a pool from KvPool::create");
  if (dtype_ != DType::F16 && dtype_ != DType::F32)
    throw EngineError(ErrorCode::UnsupportedDtype,
                      std::string("KV cache dtype must be f16 or f32, got ") + dtype_name(dtype_));
  if (page_tokens_ <= 0 || page_tokens_ > 65536)
    throw EngineError(ErrorCode::InvalidArgument, "KV page_tokens must be in 1..65536, got " + std::to_string(page_tokens_));
  if (options.max_tokens < 0)
    throw EngineError(ErrorCode::InvalidArgument, "KV max_tokens must be >= 0, got " + std::to_string(options.max_tokens));
  page_bytes_ = static_cast<size_t>(page_tokens_) * (2 * row_bytes() + sizeof(int32_t));
  heads_.resize(static_cast<size_t>(n_layers_) * n_kv_heads_);
}

std::unique_ptr<KvCache> KvCache::create(const ModelConfig& config, std::shared_ptr<KvPool> pool,
                                         const KvCacheOptions& options) {
  return std::make_unique<PagedKvCache>(config, std::move(pool), options);
}

PagedKvCache& paged(KvCache& cache) {
  PagedKvCache* p = dynamic_cast<PagedKvCache*>(&cache);
  if (!p) throw EngineError(ErrorCode::Internal, "KV cache was not created by KvCache::create");
  return *p;
}

size_t PagedKvCache::bytes() const {
  size_t pages = 0;
  for (const KvHead& h : heads_) pages += h.pages.size();
  return pages * page_bytes_;
}

std::shared_ptr<KvPage> PagedKvCache::new_page() { return std::make_shared<KvPage>(pool_, page_bytes_); }

KvPage& PagedKvCache::writable(KvHead& h, size_t page_index) {
  std::shared_ptr<KvPage>& p = h.pages[page_index];
  if (p.use_count() > 1) {
    auto copy = new_page();
    std::memcpy(copy->data(), p->data(), page_bytes_);
    p = std::move(copy);
  }
  return *p;
}

void PagedKvCache::append(int32_t layer, int32_t kv_head, int32_t n, const float* k, const float* v, int64_t stride,
                          const int32_t* positions) {
  KvHead& h = head_mut(layer, kv_head);
  for (int32_t i = 0; i < n; ++i) {
    const int32_t slot = h.length;
    const size_t page_index = static_cast<size_t>(slot / page_tokens_);
    const int32_t in_page = slot % page_tokens_;
    if (page_index == h.pages.size()) h.pages.push_back(new_page());
    KvPage& p = writable(h, page_index);
    p.mark_dirty(in_page, in_page + 1);
    cpu::from_f32(k + i * stride, dtype_, head_dim_, slot_k(p, in_page));
    cpu::from_f32(v + i * stride, dtype_, head_dim_, slot_v(p, in_page));
    slot_pos(p)[in_page] = positions[i];
    ++h.length;
  }
}

void PagedKvCache::compact(int32_t layer, int32_t kv_head,
                           const std::function<bool(int32_t slot, int32_t position)>& keep) {
  KvHead& h = head_mut(layer, kv_head);
  int32_t out = 0;
  for (int32_t s = 0; s < h.length; ++s) {
    const KvPage& src = *h.pages[s / page_tokens_];
    const int32_t si = s % page_tokens_;
    const int32_t pos = positions(src)[si];
    if (!keep(s, pos)) continue;
    if (out != s) {
      KvPage& dst = writable(h, out / page_tokens_);
      const KvPage& from = *h.pages[s / page_tokens_];  // re-read: writable() may have replaced a page
      const int32_t di = out % page_tokens_;
      dst.mark_dirty(di, di + 1);
      std::memcpy(slot_k(dst, di), static_cast<const uint8_t*>(keys(from)) + si * row_bytes(), row_bytes());
      std::memcpy(slot_v(dst, di), static_cast<const uint8_t*>(values(from)) + si * row_bytes(), row_bytes());
      slot_pos(dst)[di] = pos;
    }
    ++out;
  }
  h.length = out;
  h.pages.resize((static_cast<size_t>(out) + page_tokens_ - 1) / page_tokens_);
}

void PagedKvCache::truncate(int32_t n_positions) {
  if (n_positions < 0 || n_positions > next_position_)
    throw EngineError(ErrorCode::InvalidArgument, "truncate to " + std::to_string(n_positions) +
                                                      " positions: must be in 0.." + std::to_string(next_position_));
  for (int32_t l = 0; l < n_layers_; ++l)
    for (int32_t g = 0; g < n_kv_heads_; ++g) {
      // Slots are in position order, so only a tail can go; skip heads with nothing to drop.
      const KvHead& h = head(l, g);
      if (h.length == 0) continue;
      const KvPage& last = *h.pages[(h.length - 1) / page_tokens_];
      if (positions(last)[(h.length - 1) % page_tokens_] < n_positions) continue;
      compact(l, g, [n_positions](int32_t, int32_t pos) { return pos < n_positions; });
    }
  next_position_ = n_positions;
}

void PagedKvCache::clear() {
  for (KvHead& h : heads_) {
    h.pages.clear();
    h.length = 0;
  }
  next_position_ = 0;
}

std::unique_ptr<PagedKvCache> PagedKvCache::fork() const { return std::make_unique<PagedKvCache>(*this); }

}  // namespace presskv
