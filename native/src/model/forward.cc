// Layer-major chunked forward pass (forward.h). For each layer, chunk by chunk: attention block then
// FFN block; the residual stream of all n new tokens is kept, so a press can compress layer l's cache
// after the layer is done and before layer l+1 starts (EvalOptions::press_hook, a LayerHook).
// eval_batch() runs the same layers over one row per sequence (batched decoding): the matmuls see all
// rows at once, each row's attention sees only its own sequence's cache (CacheRows).
#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/errors.h"
#include "model/paged-attention.h"
#include "cpu/kernels.h"
#include "kv/paged-kv-cache.h"
#include "model/rope.h"
#include "model/weights.h"

namespace presskv {
namespace {

// The rows of one pass that belong to one sequence: rows [first, first + count) append to cache.
// eval() has one such span (all its tokens), eval_batch() one per decode row.
struct CacheRows {
  PagedKvCache* cache;
  int32_t first;
  int32_t count;
};

class ForwardImpl final : public Forward {
 public:
  ForwardImpl(std::shared_ptr<const Model> model, ThreadPool& pool)
      : model_(std::move(model)), lm_(loaded(*model_)), c_(lm_.config()), w_(lm_.weights()), pool_(pool) {}

  void eval(KvCache& cache_base, const int32_t* tokens, int32_t n, const EvalOptions& options,
            std::vector<float>& logits_out) override {
    PagedKvCache& cache = paged(cache_base);
    if (n <= 0) throw EngineError(ErrorCode::InvalidArgument, "eval needs at least one token");
    if (options.chunk_size <= 0)
      throw EngineError(ErrorCode::InvalidArgument, "chunk_size must be > 0, got " + std::to_string(options.chunk_size));
    check_shape(cache);
    for (int32_t i = 0; i < n; ++i) check_token(tokens[i], i);
    const int32_t start = cache.next_position();
    check_room(cache, n);
    try {
      embed(tokens, n);
      positions_.resize(n);
      for (int32_t i = 0; i < n; ++i) positions_[i] = start + i;
      const int32_t chunk = std::min(options.chunk_size, n);
      run_layers({{&cache, 0, n}}, n, chunk, options);
      logits_out.clear();
      if (options.logits != LogitsMode::None) {
        const int32_t first = options.logits == LogitsMode::Last ? n - 1 : 0;
        logits_out.resize(static_cast<size_t>(n - first) * c_.vocab);
        output_head(first, n - first, chunk, logits_out.data());
      }
    } catch (...) {
      cache.truncate(start);  // every layer back to the state before this call
      throw;
    }
    cache.advance(n);
  }

  void eval_batch(std::vector<DecodeRow>& rows) override {
    std::vector<CacheRows> live;
    std::vector<size_t> live_rows;  // index in rows of live[j]
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
      output_head(0, n, n, batch_logits_.data());
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
  void check_abort(const EvalOptions& options) {
    if (options.abort && options.abort->load(std::memory_order_relaxed))
      throw EngineError(ErrorCode::Aborted, "evaluation aborted");
  }

  void check_shape(const PagedKvCache& cache) const {
    if (cache.n_layers() != c_.n_layers || cache.n_kv_heads() != c_.n_kv_heads || cache.head_dim() != c_.head_dim)
      throw EngineError(ErrorCode::InvalidArgument, "KV cache was created for a different model shape");
  }

  // index: the token's place in eval()'s input, named in the message; -1 for a decode row.
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

  // The residual stream of n rows starts as the tokens' embeddings.
  void embed(const int32_t* tokens, int32_t n) {
    const int64_t hidden = c_.hidden;
    hidden_.resize(static_cast<size_t>(n) * hidden);
    const size_t embd_row = static_cast<size_t>(hidden) * dtype_size(w_.token_embd.dtype);
    for (int32_t i = 0; i < n; ++i)
      cpu::to_f32(static_cast<const uint8_t*>(w_.token_embd.data) + tokens[i] * embd_row, w_.token_embd.dtype, hidden,
                  hidden_.data() + static_cast<size_t>(i) * hidden);
  }

  // Every layer over the n rows of hidden_ (positions in positions_), chunk rows at a time. A press hook
  // needs the single sequence of eval(): seqs has one span then.
  void run_layers(const std::vector<CacheRows>& seqs, int32_t n, int32_t chunk, const EvalOptions& options) {
    const int64_t hidden = c_.hidden, hd = c_.head_dim;
    const int64_t q_width = int64_t(c_.n_heads) * hd, kv_width = int64_t(c_.n_kv_heads) * hd;
    rope_tables(lm_.rope_inv_freq(), positions_.data(), n, rope_cs_);

    xn_.resize(static_cast<size_t>(chunk) * hidden);
    q_.resize(static_cast<size_t>(chunk) * q_width);
    k_.resize(static_cast<size_t>(chunk) * kv_width);
    v_.resize(static_cast<size_t>(chunk) * kv_width);
    attn_.resize(static_cast<size_t>(chunk) * q_width);
    gate_.resize(static_cast<size_t>(chunk) * c_.ffn);
    up_.resize(static_cast<size_t>(chunk) * c_.ffn);
    proj_.resize(static_cast<size_t>(chunk) * hidden);

    LayerHook* hook = options.press_hook;
    if (hook && seqs.size() != 1) throw EngineError(ErrorCode::Internal, "a press hook needs exactly one sequence");
    for (int32_t l = 0; l < c_.n_layers; ++l) {
      if (hook) hook->before_layer(l, hidden_.data(), n);
      for (int32_t c0 = 0; c0 < n; c0 += chunk) {
        check_abort(options);
        const int32_t m = std::min(chunk, n - c0);
        attention_block(seqs, l, c0, m);
        ffn_block(l, c0, m);
      }
      // Layer l's cache now holds every new token and layer l+1 has not run: the press's moment.
      if (hook) hook->after_layer(*seqs[0].cache, l, n, positions_[0]);
    }
    if (hook) hook->after_all_layers(*seqs[0].cache);
    check_abort(options);
  }

  // Logits of hidden_ rows [first, first + rows) into out (rows × vocab), chunk rows per matmul.
  void output_head(int32_t first, int32_t rows, int32_t chunk, float* out) {
    const int64_t hidden = c_.hidden;
    for (int32_t r0 = 0; r0 < rows; r0 += chunk) {
      const int32_t m = std::min(chunk, rows - r0);
      for (int32_t i = 0; i < m; ++i)
        cpu::rmsnorm(hidden_.data() + static_cast<size_t>(first + r0 + i) * hidden, w_.output_norm.data(),
                     xn_.data() + static_cast<size_t>(i) * hidden, hidden, c_.rms_eps);
      cpu::matmul(pool_, xn_.data(), m, hidden, w_.output.data, w_.output.dtype, c_.vocab, hidden,
                  out + static_cast<size_t>(r0) * c_.vocab, c_.vocab);
    }
  }

  void project(const float* x, int32_t m, const WeightMatrix& w, float* y) {
    cpu::matmul(pool_, x, m, w.cols, w.data, w.dtype, w.rows, w.cols, y, w.rows);
  }

  static void add_bias(float* y, int32_t m, const std::vector<float>& bias) {
    if (bias.empty()) return;
    const size_t width = bias.size();
    for (int32_t i = 0; i < m; ++i)
      for (size_t j = 0; j < width; ++j) y[i * width + j] += bias[j];
  }

  void attention_block(const std::vector<CacheRows>& seqs, int32_t l, int32_t c0, int32_t m) {
    const LayerWeights& L = w_.layers[l];
    const int64_t hidden = c_.hidden, hd = c_.head_dim;
    const int64_t q_width = int64_t(c_.n_heads) * hd, kv_width = int64_t(c_.n_kv_heads) * hd;
    float* h = hidden_.data() + static_cast<size_t>(c0) * hidden;
    for (int32_t i = 0; i < m; ++i) cpu::rmsnorm(h + i * hidden, L.attn_norm.data(), xn_.data() + i * hidden, hidden, c_.rms_eps);
    project(xn_.data(), m, L.q, q_.data());
    project(xn_.data(), m, L.k, k_.data());
    project(xn_.data(), m, L.v, v_.data());
    add_bias(q_.data(), m, L.q_bias);
    add_bias(k_.data(), m, L.k_bias);
    add_bias(v_.data(), m, L.v_bias);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const size_t half_rope = static_cast<size_t>(c_.rope_dim / 2);
    for (int32_t i = 0; i < m; ++i) {
      float* qi = q_.data() + i * q_width;
      float* ki = k_.data() + i * kv_width;
      if (c_.qk_norm) {
        for (int32_t hh = 0; hh < c_.n_heads; ++hh) cpu::rmsnorm(qi + hh * hd, L.q_norm.data(), qi + hh * hd, hd, c_.rms_eps);
        for (int32_t g = 0; g < c_.n_kv_heads; ++g) cpu::rmsnorm(ki + g * hd, L.k_norm.data(), ki + g * hd, hd, c_.rms_eps);
      }
      const float* cs = rope_cs_.data() + static_cast<size_t>(c0 + i) * half_rope * 2;
      rope_apply(qi, c_.n_heads, c_.head_dim, c_.rope_dim, c_.rope_style, cs);
      rope_apply(ki, c_.n_kv_heads, c_.head_dim, c_.rope_dim, c_.rope_style, cs);
      for (int64_t j = 0; j < q_width; ++j) qi[j] *= scale;
    }
    // Each sequence's rows of this chunk meet only that sequence's cache.
    for (const CacheRows& s : seqs) {
      const int32_t a = std::max(s.first, c0), b = std::min(s.first + s.count, c0 + m);
      if (a >= b) continue;
      const size_t r = static_cast<size_t>(a - c0);
      for (int32_t g = 0; g < c_.n_kv_heads; ++g)
        s.cache->append(l, g, b - a, k_.data() + r * kv_width + g * hd, v_.data() + r * kv_width + g * hd, kv_width,
                        positions_.data() + a);
      model_ops::paged_attention(pool_, *s.cache, l, q_.data() + r * q_width, positions_.data() + a, b - a, c_.n_heads,
                     attn_.data() + r * q_width);
    }
    project(attn_.data(), m, L.o, proj_.data());
    for (int64_t i = 0; i < int64_t(m) * hidden; ++i) h[i] += proj_[i];
  }

  void ffn_block(int32_t l, int32_t c0, int32_t m) {
    const LayerWeights& L = w_.layers[l];
    const int64_t hidden = c_.hidden;
    float* h = hidden_.data() + static_cast<size_t>(c0) * hidden;
    for (int32_t i = 0; i < m; ++i) cpu::rmsnorm(h + i * hidden, L.ffn_norm.data(), xn_.data() + i * hidden, hidden, c_.rms_eps);
    project(xn_.data(), m, L.gate, gate_.data());
    project(xn_.data(), m, L.up, up_.data());
    cpu::silu_mul(gate_.data(), up_.data(), int64_t(m) * c_.ffn);
    project(gate_.data(), m, L.down, proj_.data());
    for (int64_t i = 0; i < int64_t(m) * hidden; ++i) h[i] += proj_[i];
  }

  std::shared_ptr<const Model> model_;
  const LoadedModel& lm_;
  const ModelConfig& c_;
  const ModelWeights& w_;
  ThreadPool& pool_;
  std::vector<float> hidden_, xn_, q_, k_, v_, attn_, gate_, up_, proj_, rope_cs_, batch_logits_;
  std::vector<int32_t> positions_;
};

}  // namespace

std::unique_ptr<Forward> Forward::create(std::shared_ptr<const Model> model, ThreadPool& pool) {
  if (!model) throw EngineError(ErrorCode::InvalidArgument, "Forward::create: no model");
  return std::make_unique<ForwardImpl>(std::move(model), pool);
}

}  // namespace presskv
