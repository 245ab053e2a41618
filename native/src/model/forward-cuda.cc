// The forward pass on an NVIDIA GPU (forward.h's contract, the CPU ForwardImpl as its reference).
// Weights are uploaded once from the mapped files (no second host copy). The paged KV cache stays the
// canonical copy in the engine's page format: each layer's new K/V rows are appended to it on the host
// (so forks, presses, save/load and budgets work unchanged), and its pages are mirrored on the device,
// refreshed from their dirty slot ranges before the device attention reads them.
#include "model/forward.h"

#if ENGINE_HAS_CUDA
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

#include "core/errors.h"
#include "cuda/cuda-kernels.h"
#include "model/rope.h"
#include "model/weights.h"

namespace presskv {
namespace {

// A grow-only device buffer.
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cuda::release(ptr_); }
  template <typename T>
  T* get(size_t count, const char* what) {
    const size_t bytes = count * sizeof(T);
    if (bytes > bytes_) {
      cuda::release(ptr_);
      ptr_ = nullptr;
      bytes_ = 0;
      ptr_ = cuda::alloc(bytes, what);
      bytes_ = bytes;
    }
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

std::atomic<int64_t> g_mirror_bytes{0};

class DevicePageMirror final : public PageMirror {
 public:
  explicit DevicePageMirror(size_t bytes) : bytes_(bytes), ptr_(static_cast<uint8_t*>(cuda::alloc(bytes, "a KV page"))) {
    g_mirror_bytes += int64_t(bytes);
  }
  ~DevicePageMirror() override {
    cuda::release(ptr_);
    g_mirror_bytes -= int64_t(bytes_);
  }
  uint8_t* ptr() const { return ptr_; }

 private:
  size_t bytes_;
  uint8_t* ptr_;
};

// The device copy of a page, made current: whole on first use, else its dirty K, V and position rows.
const uint8_t* device_page(KvPage& page, const PagedKvCache& cache) {
  auto* mirror = static_cast<DevicePageMirror*>(page.mirror());
  if (!mirror) {
    auto made = std::make_unique<DevicePageMirror>(cache.page_bytes());
    cuda::upload(made->ptr(), page.data(), cache.page_bytes());
    mirror = made.get();
    page.set_mirror(std::move(made));
    page.mark_clean();
    return mirror->ptr();
  }
  const int32_t b = page.dirty_begin(), e = page.dirty_end();
  if (b < e) {
    const size_t rb = cache.row_bytes(), pt = size_t(cache.page_tokens());
    cuda::upload(mirror->ptr() + b * rb, page.data() + b * rb, (e - b) * rb);
    cuda::upload(mirror->ptr() + (pt + b) * rb, page.data() + (pt + b) * rb, (e - b) * rb);
    const size_t pos0 = 2 * pt * rb;
    cuda::upload(mirror->ptr() + pos0 + b * sizeof(int32_t), page.data() + pos0 + b * sizeof(int32_t),
                 (e - b) * sizeof(int32_t));
    page.mark_clean();
  }
  return mirror->ptr();
}

struct DeviceMatrix {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
};

struct DeviceLayer {
  const float *attn_norm = nullptr, *ffn_norm = nullptr, *q_norm = nullptr, *k_norm = nullptr;
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr;
  DeviceMatrix q, k, v, o, gate, up, down;
};

struct CacheRows {
  PagedKvCache* cache;
  int32_t first;
  int32_t count;
};

class CudaForward final : public Forward {
 public:
  CudaForward(std::shared_ptr<const Model> model, int32_t device)
      : model_(std::move(model)), lm_(loaded(*model_)), c_(lm_.config()), w_(lm_.weights()), device_(device) {
    cuda::use_device(device_);
    try {
      upload_weights();
    } catch (...) {
      free_weights();
      throw;
    }
  }
  ~CudaForward() override { free_weights(); }

  DeviceMemory memory() const override {
    DeviceMemory m;
    m.weights = weight_bytes_;
    m.kv_mirror = size_t(std::max<int64_t>(0, g_mirror_bytes.load()));
    m.scratch = scratch_bytes();
    return m;
  }

  void eval(KvCache& cache_base, const int32_t* tokens, int32_t n, const EvalOptions& options,
            std::vector<float>& logits_out) override {
    cuda::use_device(device_);
    PagedKvCache& cache = paged(cache_base);
    if (n <= 0) throw EngineError(ErrorCode::InvalidArgument, "eval needs at least one token");
    if (options.chunk_size <= 0)
      throw EngineError(ErrorCode::InvalidArgument, "chunk_size must be > 0, got " + std::to_string(options.chunk_size));
    check_shape(cache);
    for (int32_t i = 0; i < n; ++i) check_token(tokens[i], i);
    const int32_t start = cache.next_position();
    check_room(cache, n);
    try {
      positions_.resize(n);
      for (int32_t i = 0; i < n; ++i) positions_[i] = start + i;
      embed(tokens, n);
      // The device has room for long chunks; the press hook and the CPU engine see the same layers.
      const int32_t chunk = std::min(n, std::max(options.chunk_size, kMinChunk));
      run_layers({{&cache, 0, n}}, n, chunk, options);
      logits_out.clear();
      if (options.logits != LogitsMode::None) {
        const int32_t first = options.logits == LogitsMode::Last ? n - 1 : 0;
        logits_out.resize(static_cast<size_t>(n - first) * c_.vocab);
        output_head(first, n - first, logits_out.data());
      }
    } catch (...) {
      cache.truncate(start);
      throw;
    }
    cache.advance(n);
  }

  void eval_batch(std::vector<DecodeRow>& rows) override {
    cuda::use_device(device_);
    std::vector<CacheRows> live;
    std::vector<size_t> live_rows;
    std::vector<int32_t> tokens;
    for (size_t i = 0; i < rows.size(); ++i) {
      DecodeRow& row = rows[i];
      row.error = nullptr;
      try {
        if (!row.cache || !row.logits)
          throw EngineError(ErrorCode::InvalidArgument, "a decode row needs a cache and a logits buffer");
        PagedKvCache& cache = paged(*row.cache);
        check_shape(cache);
        check_token(row.token, -1);
        check_room(cache, 1);
        for (const CacheRows& other : live)
          if (other.cache == &cache)
            throw EngineError(ErrorCode::InvalidArgument, "a sequence can decode only one token per batch");
        if (row.abort && row.abort->load(std::memory_order_relaxed))
          throw EngineError(ErrorCode::Aborted, "evaluation aborted");
        live.push_back({&cache, static_cast<int32_t>(live.size()), 1});
        live_rows.push_back(i);
        tokens.push_back(row.token);
      } catch (...) {
        row.error = std::current_exception();
      }
    }
    if (live.empty()) return;
    const int32_t n = static_cast<int32_t>(live.size());
    positions_.resize(n);
    for (int32_t j = 0; j < n; ++j) positions_[j] = live[j].cache->next_position();
    try {
      embed(tokens.data(), n);
      run_layers(live, n, n, EvalOptions{});
      batch_logits_.resize(static_cast<size_t>(n) * c_.vocab);
      output_head(0, n, batch_logits_.data());
    } catch (...) {
      for (int32_t j = 0; j < n; ++j) live[j].cache->truncate(positions_[j]);
      throw;
    }
    for (int32_t j = 0; j < n; ++j) {
      DecodeRow& row = rows[live_rows[j]];
      if (row.abort && row.abort->load(std::memory_order_relaxed)) {
        live[j].cache->truncate(positions_[j]);
        row.error = std::make_exception_ptr(EngineError(ErrorCode::Aborted, "evaluation aborted"));
        continue;
      }
      live[j].cache->advance(1);
      const float* first = batch_logits_.data() + static_cast<size_t>(j) * c_.vocab;
      row.logits->assign(first, first + c_.vocab);
    }
  }

 private:
  static constexpr int32_t kMinChunk = 1024;

  void check_shape(const PagedKvCache& cache) const {
    if (cache.n_layers() != c_.n_layers || cache.n_kv_heads() != c_.n_kv_heads || cache.head_dim() != c_.head_dim)
      throw EngineError(ErrorCode::InvalidArgument, "KV cache was created for a different model shape");
  }
  void check_token(int32_t token, int32_t index) const {
    if (token >= 0 && token < c_.vocab) return;
    const std::string where = index >= 0 ? " at index " + std::to_string(index) : "";
    throw EngineError(ErrorCode::InvalidArgument, "token id " + std::to_string(token) + where +
                                                      " is outside the vocabulary (0.." + std::to_string(c_.vocab - 1) +
                                                      ")");
  }
  static void check_room(const PagedKvCache& cache, int32_t n) {
    const int32_t start = cache.next_position();
    if (static_cast<int64_t>(start) + n > cache.max_tokens())
      throw EngineError(ErrorCode::ContextOverflow,
                        "context overflow: " + std::to_string(start) + " positions in the cache + " + std::to_string(n) +
                            " new tokens exceed the context window of " + std::to_string(cache.max_tokens()));
  }
  static void check_abort(const EvalOptions& options) {
    if (options.abort && options.abort->load(std::memory_order_relaxed))
      throw EngineError(ErrorCode::Aborted, "evaluation aborted");
  }

  // --- weights ---
  const void* device_copy(const void* host, size_t bytes) {
    auto it = uploaded_.find(host);
    if (it != uploaded_.end()) return it->second;
    void* d = cuda::alloc(bytes, "model weights");
    uploaded_[host] = d;
    weight_bytes_ += bytes;
    cuda::upload(d, host, bytes);
    cuda::synchronize();  // the mapped pages are read now, not after the next page fault storm
    return d;
  }
  DeviceMatrix matrix(const WeightMatrix& w) {
    DeviceMatrix d;
    d.dtype = w.dtype;
    d.rows = w.rows;
    d.cols = w.cols;
    d.data = device_copy(w.data, size_t(w.rows) * w.cols * dtype_size(w.dtype));
    return d;
  }
  const float* vec(const std::vector<float>& v) {
    if (v.empty()) return nullptr;
    return static_cast<const float*>(device_copy(v.data(), v.size() * sizeof(float)));
  }
  void upload_weights() {
    embd_ = matrix(w_.token_embd);
    output_ = matrix(w_.output);
    output_norm_ = vec(w_.output_norm);
    for (const LayerWeights& L : w_.layers) {
      DeviceLayer d;
      d.attn_norm = vec(L.attn_norm);
      d.ffn_norm = vec(L.ffn_norm);
      d.q_norm = vec(L.q_norm);
      d.k_norm = vec(L.k_norm);
      d.q_bias = vec(L.q_bias);
      d.k_bias = vec(L.k_bias);
      d.v_bias = vec(L.v_bias);
      d.q = matrix(L.q);
      d.k = matrix(L.k);
      d.v = matrix(L.v);
      d.o = matrix(L.o);
      d.gate = matrix(L.gate);
      d.up = matrix(L.up);
      d.down = matrix(L.down);
      layers_.push_back(d);
    }
  }
  void free_weights() {
    for (auto& [host, dev] : uploaded_) cuda::release(const_cast<void*>(dev));
    uploaded_.clear();
  }
  size_t scratch_bytes() const {
    size_t total = 0;
    for (const DeviceArray* a : {&d_hidden_, &d_xn_, &d_q_, &d_k_, &d_v_, &d_attn_, &d_gate_, &d_up_, &d_proj_, &d_cs_,
                                 &d_tokens_, &d_pos_, &d_seq_, &d_heads_, &d_pages_, &d_attn_scratch_, &d_logits_})
      total += a->bytes();
    return total;
  }

  // --- the pass ---
  void embed(const int32_t* tokens, int32_t n) {
    int32_t* d_tok = d_tokens_.get<int32_t>(n, "token ids");
    cuda::upload(d_tok, tokens, sizeof(int32_t) * n);
    hidden_ = d_hidden_.get<float>(size_t(n) * c_.hidden, "hidden states");
    cuda::embed_rows(embd_.data, embd_.dtype, c_.hidden, d_tok, n, hidden_);
  }

  void run_layers(const std::vector<CacheRows>& seqs, int32_t n, int32_t chunk, const EvalOptions& options) {
    const int64_t hidden = c_.hidden, hd = c_.head_dim;
    const int64_t q_width = int64_t(c_.n_heads) * hd, kv_width = int64_t(c_.n_kv_heads) * hd;
    rope_tables(lm_.rope_inv_freq(), positions_.data(), n, rope_cs_);
    float* d_cs = d_cs_.get<float>(rope_cs_.size(), "RoPE tables");
    cuda::upload(d_cs, rope_cs_.data(), rope_cs_.size() * sizeof(float));
    int32_t* d_pos = d_pos_.get<int32_t>(n, "positions");
    cuda::upload(d_pos, positions_.data(), sizeof(int32_t) * n);
    xn_ = d_xn_.get<float>(size_t(chunk) * hidden, "activations");
    q_ = d_q_.get<float>(size_t(chunk) * q_width, "queries");
    k_ = d_k_.get<float>(size_t(chunk) * kv_width, "keys");
    v_ = d_v_.get<float>(size_t(chunk) * kv_width, "values");
    attn_ = d_attn_.get<float>(size_t(chunk) * q_width, "attention output");
    gate_ = d_gate_.get<float>(size_t(chunk) * c_.ffn, "FFN gate");
    up_ = d_up_.get<float>(size_t(chunk) * c_.ffn, "FFN up");
    proj_ = d_proj_.get<float>(size_t(chunk) * hidden, "projections");
    cs_dev_ = d_cs;
    pos_dev_ = d_pos;

    LayerHook* hook = options.press_hook;
    if (hook && seqs.size() != 1) throw EngineError(ErrorCode::Internal, "a press hook needs exactly one sequence");
    for (int32_t l = 0; l < c_.n_layers; ++l) {
      if (hook) {
        host_hidden_.resize(size_t(n) * hidden);
        cuda::download(host_hidden_.data(), hidden_, host_hidden_.size() * sizeof(float));
        hook->before_layer(l, host_hidden_.data(), n);
      }
      for (int32_t c0 = 0; c0 < n; c0 += chunk) {
        check_abort(options);
        const int32_t m = std::min(chunk, n - c0);
        attention_block(seqs, l, c0, m);
        ffn_block(l, c0, m);
      }
      if (hook) {
        cuda::synchronize();
        hook->after_layer(*seqs[0].cache, l, n, positions_[0]);
      }
    }
    if (hook) hook->after_all_layers(*seqs[0].cache);
    check_abort(options);
  }

  void project(const float* x, int32_t m, const DeviceMatrix& w, float* y) {
    cuda::matmul(x, m, w.data, w.dtype, w.rows, w.cols, y);
  }

  void attention_block(const std::vector<CacheRows>& seqs, int32_t l, int32_t c0, int32_t m) {
    const DeviceLayer& L = layers_[l];
    const int64_t hidden = c_.hidden, hd = c_.head_dim;
    const int64_t q_width = int64_t(c_.n_heads) * hd, kv_width = int64_t(c_.n_kv_heads) * hd;
    float* h = hidden_ + size_t(c0) * hidden;
    cuda::rmsnorm_rows(h, L.attn_norm, xn_, m, hidden, c_.rms_eps);
    project(xn_, m, L.q, q_);
    project(xn_, m, L.k, k_);
    project(xn_, m, L.v, v_);
    if (L.q_bias) cuda::add_bias(q_, L.q_bias, m, q_width);
    if (L.k_bias) cuda::add_bias(k_, L.k_bias, m, kv_width);
    if (L.v_bias) cuda::add_bias(v_, L.v_bias, m, kv_width);
    if (c_.qk_norm) {
      cuda::rmsnorm_rows(q_, L.q_norm, q_, int64_t(m) * c_.n_heads, hd, c_.rms_eps);
      cuda::rmsnorm_rows(k_, L.k_norm, k_, int64_t(m) * c_.n_kv_heads, hd, c_.rms_eps);
    }
    const bool interleaved = c_.rope_style == RopeStyle::Interleaved;
    const float* cs = cs_dev_ + size_t(c0) * c_.rope_dim;
    cuda::rope_rows(q_, m, c_.n_heads, c_.head_dim, c_.rope_dim, interleaved, cs, 1.0f / std::sqrt(float(hd)));
    cuda::rope_rows(k_, m, c_.n_kv_heads, c_.head_dim, c_.rope_dim, interleaved, cs, 1.0f);

    // The new K / V rows join the canonical host cache (in its dtype, as the CPU engine stores them).
    host_k_.resize(size_t(m) * kv_width);
    host_v_.resize(size_t(m) * kv_width);
    cuda::download(host_k_.data(), k_, host_k_.size() * sizeof(float));
    cuda::download(host_v_.data(), v_, host_v_.size() * sizeof(float));
    for (const CacheRows& s : seqs) {
      const int32_t a = std::max(s.first, c0), b = std::min(s.first + s.count, c0 + m);
      if (a >= b) continue;
      const size_t r = size_t(a - c0);
      for (int32_t g = 0; g < c_.n_kv_heads; ++g)
        s.cache->append(l, g, b - a, host_k_.data() + r * kv_width + g * hd, host_v_.data() + r * kv_width + g * hd,
                        kv_width, positions_.data() + a);
    }

    // Page tables of the sequences with rows in this chunk; rows of the chunk name their sequence.
    row_seq_.assign(m, 0);
    head_table_.clear();
    page_ptrs_.clear();
    int32_t max_pages = 0, n_seq = 0;
    for (const CacheRows& s : seqs) {
      const int32_t a = std::max(s.first, c0), b = std::min(s.first + s.count, c0 + m);
      if (a >= b) continue;
      for (int32_t t = a; t < b; ++t) row_seq_[t - c0] = n_seq;
      for (int32_t g = 0; g < c_.n_kv_heads; ++g) {
        const KvHead& kh = s.cache->head(l, g);
        head_table_.push_back({static_cast<int32_t>(page_ptrs_.size()), kh.length});
        for (const auto& page : kh.pages) page_ptrs_.push_back(device_page(*page, *s.cache));
        max_pages = std::max(max_pages, static_cast<int32_t>(kh.pages.size()));
      }
      ++n_seq;
    }
    int32_t* d_seq = d_seq_.get<int32_t>(m, "attention rows");
    cuda::upload(d_seq, row_seq_.data(), sizeof(int32_t) * m);
    auto* d_heads = d_heads_.get<cuda::HeadPages>(head_table_.size(), "attention heads");
    cuda::upload(d_heads, head_table_.data(), sizeof(cuda::HeadPages) * head_table_.size());
    auto* d_pages = d_pages_.get<const uint8_t*>(std::max<size_t>(1, page_ptrs_.size()), "page table");
    cuda::upload(d_pages, page_ptrs_.data(), sizeof(const uint8_t*) * page_ptrs_.size());

    cuda::AttentionArgs args{};
    args.q = q_;
    args.out = attn_;
    args.q_pos = pos_dev_ + c0;
    args.row_seq = d_seq;
    args.heads = d_heads;
    args.page_ptrs = d_pages;
    args.rows = m;
    args.n_heads = c_.n_heads;
    args.n_kv_heads = c_.n_kv_heads;
    args.head_dim = c_.head_dim;
    args.page_tokens = seqs[0].cache->page_tokens();
    args.max_pages = max_pages;
    args.dtype = seqs[0].cache->dtype();
    args.scratch = d_attn_scratch_.get<float>(cuda::attention_scratch_floats(m, c_.n_heads, c_.head_dim, max_pages),
                                              "attention scratch");
    for (const CacheRows& s : seqs)
      if (s.cache->page_tokens() != args.page_tokens || s.cache->dtype() != args.dtype)
        throw EngineError(ErrorCode::InvalidArgument, "batched sequences must share the KV page size and dtype");
    cuda::paged_attention(args);
    project(attn_, m, L.o, proj_);
    cuda::add_inplace(h, proj_, int64_t(m) * hidden);
  }

  void ffn_block(int32_t l, int32_t c0, int32_t m) {
    const DeviceLayer& L = layers_[l];
    const int64_t hidden = c_.hidden;
    float* h = hidden_ + size_t(c0) * hidden;
    cuda::rmsnorm_rows(h, L.ffn_norm, xn_, m, hidden, c_.rms_eps);
    project(xn_, m, L.gate, gate_);
    project(xn_, m, L.up, up_);
    cuda::silu_mul(gate_, up_, int64_t(m) * c_.ffn);
    project(gate_, m, L.down, proj_);
    cuda::add_inplace(h, proj_, int64_t(m) * hidden);
  }

  void output_head(int32_t first, int32_t rows, float* out) {
    const int64_t hidden = c_.hidden;
    constexpr int32_t kRows = 256;  // bounds the device logits buffer for LogitsMode::All
    for (int32_t r0 = 0; r0 < rows; r0 += kRows) {
      const int32_t m = std::min(kRows, rows - r0);
      float* xn = d_xn_.get<float>(size_t(std::max<int32_t>(m, 1)) * hidden, "activations");
      cuda::rmsnorm_rows(hidden_ + size_t(first + r0) * hidden, output_norm_, xn, m, hidden, c_.rms_eps);
      float* logits = d_logits_.get<float>(size_t(m) * c_.vocab, "logits");
      cuda::matmul(xn, m, output_.data, output_.dtype, c_.vocab, hidden, logits);
      cuda::download(out + size_t(r0) * c_.vocab, logits, size_t(m) * c_.vocab * sizeof(float));
      xn_ = xn;
    }
  }

  std::shared_ptr<const Model> model_;
  const LoadedModel& lm_;
  const ModelConfig& c_;
  const ModelWeights& w_;
  int32_t device_;
  std::unordered_map<const void*, const void*> uploaded_;
  size_t weight_bytes_ = 0;
  DeviceMatrix embd_, output_;
  const float* output_norm_ = nullptr;
  std::vector<DeviceLayer> layers_;

  DeviceArray d_hidden_, d_xn_, d_q_, d_k_, d_v_, d_attn_, d_gate_, d_up_, d_proj_, d_cs_, d_tokens_, d_pos_, d_seq_,
      d_heads_, d_pages_, d_attn_scratch_, d_logits_;
  float *hidden_ = nullptr, *xn_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *attn_ = nullptr,
        *gate_ = nullptr, *up_ = nullptr, *proj_ = nullptr;
  const float* cs_dev_ = nullptr;
  const int32_t* pos_dev_ = nullptr;
  std::vector<float> rope_cs_, host_hidden_, host_k_, host_v_, batch_logits_;
  std::vector<int32_t> positions_, row_seq_;
  std::vector<cuda::HeadPages> head_table_;
  std::vector<const uint8_t*> page_ptrs_;
};

}  // namespace

std::unique_ptr<Forward> Forward::create_cuda(std::shared_ptr<const Model> model, int32_t device) {
  if (!model) throw EngineError(ErrorCode::InvalidArgument, "Forward::create_cuda: no model");
  return std::make_unique<CudaForward>(std::move(model), device);
}

}  // namespace presskv

#else
#include "core/errors.h"

namespace presskv {
std::unique_ptr<Forward> Forward::create_cuda(std::shared_ptr<const Model>, int32_t) {
  throw EngineError(ErrorCode::DeviceUnavailable, "this presskv build has no CUDA support (nvcc was not found when it was built)");
}
}  // namespace presskv
#endif
