// Model::load: maps the files and checks the tensor table against the config before anything trusts it.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "core/errors.h"
#include "cpu/kernels.h"
#include "model/rope.h"
#include "model/weights.h"

namespace presskv {
namespace {

const char* kSupportedArchs[] = {"llama", "mistral", "qwen2", "qwen3"};

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

[[noreturn]] void corrupt(const std::string& message) { throw EngineError(ErrorCode::CorruptFile, message); }

void check_config(ModelConfig& c) {
  bool known = false;
  for (const char* a : kSupportedArchs) known = known || c.arch == a;
  if (!known)
    throw EngineError(ErrorCode::UnsupportedArchitecture,
                      "unsupported architecture '" + c.arch + "' (supported: llama, mistral, qwen2, qwen3)");
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) corrupt(std::string("invalid model config: ") + name + " = " + std::to_string(v) + " (must be > 0)");
  };
  positive(c.n_layers, "n_layers");
  positive(c.hidden, "hidden");
  positive(c.n_heads, "n_heads");
  positive(c.n_kv_heads, "n_kv_heads");
  positive(c.head_dim, "head_dim");
  positive(c.ffn, "ffn");
  positive(c.vocab, "vocab");
  positive(c.context_length, "context_length");
  if (c.n_heads % c.n_kv_heads != 0)
    corrupt("invalid model config: n_heads (" + std::to_string(c.n_heads) + ") is not a multiple of n_kv_heads (" +
            std::to_string(c.n_kv_heads) + ")");
  if (c.rope_dim == 0) c.rope_dim = c.head_dim;
  if (c.rope_dim < 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    corrupt("invalid model config: rope_dim " + std::to_string(c.rope_dim) + " must be even and <= head_dim " +
            std::to_string(c.head_dim));
  if (!(c.rms_eps > 0)) corrupt("invalid model config: rms_eps must be > 0");
  if (!(c.rope_theta > 0)) corrupt("invalid model config: rope_theta must be > 0");
  const std::string& st = c.rope_scaling.type;
  if (!st.empty() && st != "linear" && st != "llama3")
    throw EngineError(ErrorCode::UnsupportedArchitecture,
                      "unsupported rope scaling '" + st + "' (supported: none, linear, llama3)");
  if (!st.empty() && !(c.rope_scaling.factor > 0)) corrupt("invalid model config: rope scaling factor must be > 0");
  if (st == "llama3" && !(c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor))
    corrupt("invalid model config: llama3 rope scaling needs high_freq_factor > low_freq_factor");
}

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

class LoadedModelImpl final : public LoadedModel {
 public:
  LoadedModelImpl(const ModelSpec& spec, const LoadOptions& options) : config_(spec.config) {
    check_config(config_);
    for (const std::string& path : spec.files) files_.push_back(MmapFile::open(path, options.mmap));
    for (size_t i = 0; i < spec.tensors.size(); ++i) {
      if (!by_name_.emplace(spec.tensors[i].name, &spec.tensors[i]).second)
        corrupt("tensor '" + spec.tensors[i].name + "' appears twice in the model");
    }
    const ModelConfig& c = config_;
    const int64_t q_out = int64_t(c.n_heads) * c.head_dim, kv_out = int64_t(c.n_kv_heads) * c.head_dim;
    w_.token_embd = matrix("token_embd.weight", c.vocab, c.hidden);
    w_.output_norm = vector_f32("output_norm.weight", c.hidden);
    w_.output = c.tied_embeddings ? w_.token_embd : matrix("output.weight", c.vocab, c.hidden);
    w_.layers.resize(c.n_layers);
    for (int32_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      LayerWeights& L = w_.layers[l];
      L.attn_norm = vector_f32(p + "attn_norm.weight", c.hidden);
      L.q = matrix(p + "attn_q.weight", q_out, c.hidden);
      L.k = matrix(p + "attn_k.weight", kv_out, c.hidden);
      L.v = matrix(p + "attn_v.weight", kv_out, c.hidden);
      L.o = matrix(p + "attn_output.weight", c.hidden, q_out);
      if (c.qkv_bias) {
        L.q_bias = vector_f32(p + "attn_q.bias", q_out);
        L.k_bias = vector_f32(p + "attn_k.bias", kv_out);
        L.v_bias = vector_f32(p + "attn_v.bias", kv_out);
      }
      if (c.qk_norm) {
        L.q_norm = vector_f32(p + "attn_q_norm.weight", c.head_dim);
        L.k_norm = vector_f32(p + "attn_k_norm.weight", c.head_dim);
      }
      L.ffn_norm = vector_f32(p + "ffn_norm.weight", c.hidden);
      L.gate = matrix(p + "ffn_gate.weight", c.ffn, c.hidden);
      L.up = matrix(p + "ffn_up.weight", c.ffn, c.hidden);
      L.down = matrix(p + "ffn_down.weight", c.hidden, c.ffn);
    }
    inv_freq_ = presskv::rope_inv_freq(config_);
    if (by_name_.count("rope_freqs.weight")) {
      // GGUF llama files carry llama3 scaling as per-frequency divisors instead of config values
      // (llama.cpp's rope_freqs); the divisors replace the formula.
      ModelConfig unscaled = config_;
      if (unscaled.rope_scaling.type == "llama3") unscaled.rope_scaling.type.clear();
      inv_freq_ = presskv::rope_inv_freq(unscaled);
      const std::vector<float> divisors = vector_f32("rope_freqs.weight", c.rope_dim / 2);
      for (size_t i = 0; i < inv_freq_.size(); ++i) {
        if (!(divisors[i] > 0)) corrupt("tensor 'rope_freqs.weight' holds a non-positive divisor at " + std::to_string(i));
        inv_freq_[i] /= divisors[i];
      }
    }
    fingerprint_ = compute_fingerprint();
    by_name_.clear();  // both point into spec, which the caller owns
    used_.clear();
  }

  const ModelConfig& config() const override { return config_; }
  size_t weight_bytes() const override { return weight_bytes_; }
  std::string fingerprint() const override { return fingerprint_; }
  const ModelWeights& weights() const override { return w_; }
  const std::vector<double>& rope_inv_freq() const override { return inv_freq_; }

 private:
  // Finds a tensor, checks it against the expected shape and the file it lives in, and returns its bytes.
  const TensorDesc& checked(const std::string& name, const std::vector<int64_t>& shape, const uint8_t** data) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) corrupt("model is missing tensor '" + name + "' (needed by arch " + config_.arch + ")");
    const TensorDesc& t = *it->second;
    const int32_t dt = static_cast<int32_t>(t.dtype);
    if (dt < 0 || dt > 2)
      throw EngineError(ErrorCode::UnsupportedDtype,
                        "tensor '" + name + "' has unsupported dtype " + std::to_string(dt) + " (supported: f32, f16, bf16)");
    if (t.shape != shape)
      corrupt("tensor '" + name + "' has shape " + shape_str(t.shape) + ", expected " + shape_str(shape) +
              " from the model config");
    if (t.file_index < 0 || static_cast<size_t>(t.file_index) >= files_.size())
      corrupt("tensor '" + name + "' refers to file #" + std::to_string(t.file_index) + " of " +
              std::to_string(files_.size()));
    uint64_t elems = 1;
    for (int64_t d : shape) elems *= static_cast<uint64_t>(d);
    const uint64_t want = elems * dtype_size(t.dtype);
    if (t.nbytes != want)
      corrupt("tensor '" + name + "' has " + std::to_string(t.nbytes) + " bytes, expected " + std::to_string(want) +
              " for " + dtype_name(t.dtype) + " " + shape_str(shape));
    const MmapFile& f = *files_[t.file_index];
    if (t.offset > f.size() || t.nbytes > f.size() - t.offset)
      corrupt("tensor '" + name + "' (offset " + std::to_string(t.offset) + ", " + std::to_string(t.nbytes) +
              " bytes) lies outside file '" + f.path() + "' of " + std::to_string(f.size()) + " bytes (truncated?)");
    *data = f.data() + t.offset;
    weight_bytes_ += t.nbytes;
    used_.push_back(&t);
    return t;
  }

  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) {
    const uint8_t* data;
    const TensorDesc& t = checked(name, {rows, cols}, &data);
    return WeightMatrix{data, t.dtype, rows, cols};
  }

  std::vector<float> vector_f32(const std::string& name, int64_t n) {
    const uint8_t* data;
    const TensorDesc& t = checked(name, {n}, &data);
    std::vector<float> out(n);
    cpu::to_f32(data, t.dtype, n, out.data());
    return out;
  }

  std::string compute_fingerprint() {
    uint64_t h = 14695981039346656037ull;
    const ModelConfig& c = config_;
    h = fnv1a(h, c.arch.data(), c.arch.size());
    const int32_t ints[] = {c.n_layers, c.hidden, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn, c.vocab,
                            c.context_length, c.rope_dim, static_cast<int32_t>(c.rope_style), c.qkv_bias,
                            c.qk_norm, c.tied_embeddings, c.rope_scaling.original_max_position};
    h = fnv1a(h, ints, sizeof(ints));
    const float floats[] = {c.rms_eps, c.rope_theta, c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
                            c.rope_scaling.high_freq_factor};
    h = fnv1a(h, floats, sizeof(floats));
    h = fnv1a(h, c.rope_scaling.type.data(), c.rope_scaling.type.size());
    // Identity of the weights: names, dtypes, sizes and samples of the bytes (head, middle, tail).
    for (const TensorDesc* t : used_) {
      h = fnv1a(h, t->name.data(), t->name.size());
      h = fnv1a(h, &t->dtype, sizeof(t->dtype));
      h = fnv1a(h, &t->nbytes, sizeof(t->nbytes));
      const uint8_t* d = files_[t->file_index]->data() + t->offset;
      const uint64_t take = std::min<uint64_t>(64, t->nbytes);
      h = fnv1a(h, d, take);
      h = fnv1a(h, d + (t->nbytes - take) / 2, take);
      h = fnv1a(h, d + t->nbytes - take, take);
    }
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }

  ModelConfig config_;
  std::vector<std::shared_ptr<MmapFile>> files_;
  std::unordered_map<std::string, const TensorDesc*> by_name_;
  std::vector<const TensorDesc*> used_;
  ModelWeights w_;
  std::vector<double> inv_freq_;
  size_t weight_bytes_ = 0;
  std::string fingerprint_;
};

}  // namespace

std::shared_ptr<Model> Model::load(const ModelSpec& spec) { return load(spec, LoadOptions{}); }

std::shared_ptr<Model> Model::load(const ModelSpec& spec, const LoadOptions& options) {
  return std::make_shared<LoadedModelImpl>(spec, options);
}

const LoadedModel& loaded(const Model& model) {
  const LoadedModel* m = dynamic_cast<const LoadedModel*>(&model);
  if (!m) throw EngineError(ErrorCode::Internal, "model was not created by Model::load");
  return *m;
}

}  // namespace presskv
