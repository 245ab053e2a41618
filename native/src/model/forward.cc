// Layer-major chunked forward pass (forward.h). For each layer, chunk by chunk: attention block then
// FFN block; the residual stream of all n new tokens is kept, so a press can compress layer l's cache
// after the layer is done and before layer l+1 starts (EvalOptions::press_hook, press/forward-hook.h).
#include "model/forward.h"

#include <cmath>
#include <cstring>
#include <string>

#include "core/errors.h"
#include "cpu/attention.h"
#include "cpu/kernels.h"
#include "kv/paged-kv-cache.h"
#include "model/rope.h"
#include "model/weights.h"
#include "press/forward-hook.h"

namespace presskv {
namespace {

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
    if (cache.n_layers() != c_.n_layers || cache.n_kv_heads() != c_.n_kv_heads || cache.head_dim() != c_.head_dim)
      throw EngineError(ErrorCode::InvalidArgument, "KV cache was created for a different model shape");
    for (int32_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= c_.vocab)
        throw EngineError(ErrorCode::InvalidArgument, "token id " + std::to_string(tokens[i]) + " at index " +
                                                          std::to_string(i) + " is outside the vocabulary (0.." +
                                                          std::to_string(c_.vocab - 1) + ")");
    const int32_t start = cache.next_position();
    if (static_cast<int64_t>(start) + n > cache.max_tokens())
      throw EngineError(ErrorCode::ContextOverflow,
                        "context overflow: " + std::to_string(start) + " positions in the cache + " + std::to_string(n) +
                            " new tokens exceed the context window of " + std::to_string(cache.max_tokens()));
    try {
      run(cache, tokens, n, start, options, logits_out);
    } catch (...) {
      cache.truncate(start);  // every layer back to the state before this call
      throw;
    }
    cache.advance(n);
  }

 private:
  void check_abort(const EvalOptions& options) {
    if (options.abort && options.abort->load(std::memory_order_relaxed))
      throw EngineError(ErrorCode::Aborted, "evaluation aborted");
  }

  void run(PagedKvCache& cache, const int32_t* tokens, int32_t n, int32_t start, const EvalOptions& options,
           std::vector<float>& logits_out) {
    const int64_t hidden = c_.hidden, hd = c_.head_dim;
    const int64_t q_width = int64_t(c_.n_heads) * hd, kv_width = int64_t(c_.n_kv_heads) * hd;
    const int32_t chunk = std::min(options.chunk_size, n);

    hidden_.resize(static_cast<size_t>(n) * hidden);
    const size_t embd_row = static_cast<size_t>(hidden) * dtype_size(w_.token_embd.dtype);
    for (int32_t i = 0; i < n; ++i)
      cpu::to_f32(static_cast<const uint8_t*>(w_.token_embd.data) + tokens[i] * embd_row, w_.token_embd.dtype, hidden,
                  hidden_.data() + static_cast<size_t>(i) * hidden);
    positions_.resize(n);
    for (int32_t i = 0; i < n; ++i) positions_[i] = start + i;
    rope_tables(lm_.rope_inv_freq(), positions_.data(), n, rope_cs_);

    xn_.resize(static_cast<size_t>(chunk) * hidden);
    q_.resize(static_cast<size_t>(chunk) * q_width);
    k_.resize(static_cast<size_t>(chunk) * kv_width);
    v_.resize(static_cast<size_t>(chunk) * kv_width);
    attn_.resize(static_cast<size_t>(chunk) * q_width);
    gate_.resize(static_cast<size_t>(chunk) * c_.ffn);
    up_.resize(static_cast<size_t>(chunk) * c_.ffn);
    proj_.resize(static_cast<size_t>(chunk) * hidden);

    press::ForwardPressHook* hook = options.press_hook;
    for (int32_t l = 0; l < c_.n_layers; ++l) {
      if (hook) hook->before_layer(l, hidden_.data(), n);
      for (int32_t c0 = 0; c0 < n; c0 += chunk) {
        check_abort(options);
        const int32_t m = std::min(chunk, n - c0);
        attention_block(cache, l, c0, m);
        ffn_block(l, c0, m);
      }
      // Layer l's cache now holds every new token and layer l+1 has not run: the press's moment.
      if (hook) hook->after_layer(cache, l, n, start);
    }
    if (hook) hook->after_all_layers(cache);
    check_abort(options);

    logits_out.clear();
    if (options.logits == LogitsMode::None) return;
    const int32_t first = options.logits == LogitsMode::Last ? n - 1 : 0;
    const int32_t rows = n - first;
    logits_out.resize(static_cast<size_t>(rows) * c_.vocab);
    for (int32_t r0 = 0; r0 < rows; r0 += chunk) {
      const int32_t m = std::min(chunk, rows - r0);
      for (int32_t i = 0; i < m; ++i)
        cpu::rmsnorm(hidden_.data() + static_cast<size_t>(first + r0 + i) * hidden, w_.output_norm.data(),
                     xn_.data() + static_cast<size_t>(i) * hidden, hidden, c_.rms_eps);
      cpu::matmul(pool_, xn_.data(), m, hidden, w_.output.data, w_.output.dtype, c_.vocab, hidden,
                  logits_out.data() + static_cast<size_t>(r0) * c_.vocab, c_.vocab);
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

  void attention_block(PagedKvCache& cache, int32_t l, int32_t c0, int32_t m) {
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
    for (int32_t g = 0; g < c_.n_kv_heads; ++g)
      cache.append(l, g, m, k_.data() + g * hd, v_.data() + g * hd, kv_width, positions_.data() + c0);
    cpu::attention(pool_, cache, l, q_.data(), positions_.data() + c0, m, c_.n_heads, attn_.data());
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
  std::vector<float> hidden_, xn_, q_, k_, v_, attn_, gate_, up_, proj_, rope_cs_;
  std::vector<int32_t> positions_;
};

}  // namespace

std::unique_ptr<Forward> Forward::create(std::shared_ptr<const Model> model, ThreadPool& pool) {
  if (!model) throw EngineError(ErrorCode::InvalidArgument, "Forward::create: no model");
  return std::make_unique<ForwardImpl>(std::move(model), pool);
}

}  // namespace presskv
