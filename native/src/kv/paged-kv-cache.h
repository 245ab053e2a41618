#pragma once
// The paged KV cache behind KvCache::create, exposed to the forward pass, the attention kernels and
// (later) presses and cache serialisation. One page holds page_tokens slots of ONE (layer, kv-head):
// K rows, then V rows (head_dim values of the cache dtype each), then the slots' original positions.
// Pages are reference-counted: fork() shares them and a write to a shared page copies it first.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kv/kv-cache.h"

namespace presskv {

class KvPoolImpl;

// A copy of a page's bytes somewhere else (a GPU's memory: model/device-kv-mirror.h). The page is the
// canonical copy; the mirror's owner refreshes it from the page's dirty slot range before reading.
class PageMirror {
 public:
  virtual ~PageMirror() = default;
};

class KvPage {
 public:
  KvPage(std::shared_ptr<KvPoolImpl> pool, size_t bytes);
  ~KvPage();
  KvPage(const KvPage&) = delete;
  KvPage& operator=(const KvPage&) = delete;
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }

  // Slots [dirty_begin, dirty_end) were written since the mirror was last refreshed (a new page is
  // dirty throughout: its mirror, if any, is made whole from it).
  void mark_dirty(int32_t begin, int32_t end) {
    dirty_begin_ = dirty_begin_ < dirty_end_ ? (begin < dirty_begin_ ? begin : dirty_begin_) : begin;
    dirty_end_ = end > dirty_end_ ? end : dirty_end_;
  }
  int32_t dirty_begin() const { return dirty_begin_; }
  int32_t dirty_end() const { return dirty_end_; }
  void mark_clean() { dirty_begin_ = dirty_end_ = 0; }
  PageMirror* mirror() const { return mirror_.get(); }
  void set_mirror(std::unique_ptr<PageMirror> mirror) { mirror_ = std::move(mirror); }

 private:
  std::unique_ptr<PageMirror> mirror_;
  int32_t dirty_begin_ = 0, dirty_end_ = 0;
  std::shared_ptr<KvPoolImpl> pool_;
  size_t bytes_;
  std::unique_ptr<uint8_t[]> data_;
};

// The slots of one (layer, kv-head): slot s lives in pages[s / page_tokens] at s % page_tokens.
struct KvHead {
  std::vector<std::shared_ptr<KvPage>> pages;
  int32_t length = 0;
};

class PagedKvCache final : public KvCache {
 public:
  PagedKvCache(const ModelConfig& config, std::shared_ptr<KvPool> pool, const KvCacheOptions& options);

  int32_t next_position() const override { return next_position_; }
  int32_t max_tokens() const override { return max_tokens_; }
  int32_t length(int32_t layer, int32_t kv_head) const override { return head(layer, kv_head).length; }
  size_t bytes() const override;
  DType dtype() const override { return dtype_; }
  void truncate(int32_t n_positions) override;
  void clear() override;

  int32_t n_layers() const { return n_layers_; }
  int32_t n_kv_heads() const { return n_kv_heads_; }
  int32_t head_dim() const { return head_dim_; }
  int32_t page_tokens() const { return page_tokens_; }
  size_t page_bytes() const { return page_bytes_; }
  const KvHead& head(int32_t layer, int32_t kv_head) const { return heads_[index(layer, kv_head)]; }

  // Layout of one page.
  size_t row_bytes() const { return static_cast<size_t>(head_dim_) * dtype_size(dtype_); }
  const void* keys(const KvPage& p) const { return p.data(); }
  const void* values(const KvPage& p) const { return p.data() + page_tokens_ * row_bytes(); }
  const int32_t* positions(const KvPage& p) const {
    return reinterpret_cast<const int32_t*>(p.data() + 2 * page_tokens_ * row_bytes());
  }

  // Appends n slots to (layer, kv_head): K / V rows are f32 (row i at k + i * stride), stored in the
  // cache dtype. Throws OutOfMemory when the pool's budget cannot hold a new page.
  void append(int32_t layer, int32_t kv_head, int32_t n, const float* k, const float* v, int64_t stride,
              const int32_t* positions);
  // Appends n slots whose K / V rows are already in the cache dtype (row i at k + i * row_bytes()), copied
  // bit for bit: how a saved cache comes back (defined in kv-serialize.cc, its only user).
  void append_rows(int32_t layer, int32_t kv_head, int32_t n, const uint8_t* k, const uint8_t* v,
                   const int32_t* positions);
  // Keeps, in order, the slots of (layer, kv_head) for which keep(slot, position) is true; frees the
  // pages no longer needed. The primitive behind truncate and (later) press compaction.
  void compact(int32_t layer, int32_t kv_head, const std::function<bool(int32_t slot, int32_t position)>& keep);
  // Moves the window (a press's temporary reconstruction passes may run past it; they are cut off again).
  void set_max_tokens(int32_t max_tokens) { max_tokens_ = max_tokens; }
  // Marks n more positions as consumed (the forward pass calls this once every layer holds them).
  void advance(int32_t n) { next_position_ += n; }
  // A copy that shares every page with this cache until either side writes to it.
  std::unique_ptr<PagedKvCache> fork() const;

 private:
  size_t index(int32_t layer, int32_t kv_head) const { return static_cast<size_t>(layer) * n_kv_heads_ + kv_head; }
  KvHead& head_mut(int32_t layer, int32_t kv_head) { return heads_[index(layer, kv_head)]; }
  std::shared_ptr<KvPage> new_page();
  KvPage& writable(KvHead& h, size_t page_index);
  uint8_t* slot_k(KvPage& p, int32_t i) { return p.data() + i * row_bytes(); }
  uint8_t* slot_v(KvPage& p, int32_t i) { return p.data() + (page_tokens_ + i) * row_bytes(); }
  int32_t* slot_pos(KvPage& p) { return reinterpret_cast<int32_t*>(p.data() + 2 * page_tokens_ * row_bytes()); }

  std::shared_ptr<KvPoolImpl> pool_;
  DType dtype_;
  int32_t n_layers_, n_kv_heads_, head_dim_, page_tokens_, max_tokens_;
  size_t page_bytes_;
  int32_t next_position_ = 0;
  std::vector<KvHead> heads_;
};

// The PagedKvCache behind a KvCache (every KvCache comes from KvCache::create).
PagedKvCache& paged(KvCache& cache);

}  // namespace presskv
