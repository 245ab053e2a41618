// CUDA leaf kernels (cuda-kernels.h). Plain SIMT f32 arithmetic: the CPU engine is the reference
// and the GPU tests compare against it, so every kernel computes what its CPU twin computes, with
// f32 accumulation, in another order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.h"
#include "cuda/cuda-kernels.h"

namespace presskv::cuda {
namespace {

cudaStream_t g_stream = nullptr;

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky-free error so the next call starts clean
  if (err == cudaErrorMemoryAllocation)
    throw EngineError(ErrorCode::OutOfMemory, std::string(what) + ": the GPU is out of memory");
  throw EngineError(ErrorCode::Internal, std::string(what) + ": " + cudaGetErrorString(err));
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

__device__ __forceinline__ float load_as_f32(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load_as_f32(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float load_as_f32(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }

template <typename T>
__global__ void embed_kernel(const T* table, int64_t hidden, const int32_t* tokens, int32_t n, float* out) {
  const int32_t row = blockIdx.y;
  const T* src = table + static_cast<int64_t>(tokens[row]) * hidden;
  for (int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i < hidden; i += int64_t(gridDim.x) * blockDim.x)
    out[row * hidden + i] = load_as_f32(src, i);
}

__device__ float block_sum(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? partial[lane] : 0.0f;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __shared__ float total;
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  const float r = total;
  __syncthreads();
  return r;
}

__global__ void rmsnorm_kernel(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float* xr = x + blockIdx.x * n;
  float* yr = y + blockIdx.x * n;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += xr[i] * xr[i];
  sum = block_sum(sum);
  const float scale = 1.0f / sqrtf(sum / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

__global__ void add_bias_kernel(float* y, const float* b, int64_t total, int64_t width) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += b[i % width];
}

__global__ void rope_kernel(float* x, int32_t heads, int32_t head_dim, int32_t rope_dim, bool interleaved,
                            const float* cs, float scale) {
  const int32_t row = blockIdx.x, h = blockIdx.y;
  float* xh = x + (static_cast<int64_t>(row) * heads + h) * head_dim;
  const float* c = cs + static_cast<int64_t>(row) * rope_dim;
  const int32_t half = rope_dim / 2;
  for (int32_t i = threadIdx.x; i < half; i += blockDim.x) {
    const int32_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    const float x0 = xh[a], x1 = xh[b], co = c[2 * i], si = c[2 * i + 1];
    xh[a] = x0 * co - x1 * si;
    xh[b] = x0 * si + x1 * co;
  }
  __syncthreads();
  for (int32_t i = threadIdx.x; i < head_dim; i += blockDim.x) xh[i] *= scale;
}

__global__ void silu_mul_kernel(float* g, const float* u, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = g[i];
    g[i] = v / (1.0f + expf(-v)) * u[i];
  }
}

__global__ void add_kernel(float* h, const float* p, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    h[i] += p[i];
}

// Decode / small-batch matmul: one warp per output column j reads weight row j once for all m (≤ MR)
// input rows; bandwidth-bound, so the weight stream is what counts.
template <typename T, int MR>
__global__ void matvec_kernel(const float* x, int64_t m, const T* w, int64_t n, int64_t k, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t j = blockIdx.x * (int64_t(blockDim.x) >> 5) + (threadIdx.x >> 5);
  if (j >= n) return;
  const T* wr = w + j * k;
  float acc[MR];
#pragma unroll
  for (int r = 0; r < MR; ++r) acc[r] = 0.0f;
  for (int64_t i = lane; i < k; i += 32) {
    const float wv = load_as_f32(wr, i);
#pragma unroll
    for (int r = 0; r < MR; ++r)
      if (r < m) acc[r] += wv * x[r * k + i];
  }
#pragma unroll
  for (int r = 0; r < MR; ++r) {
    float v = acc[r];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0 && r < m) y[r * n + j] = v;
  }
}

// Prefill matmul: 64×64 output tiles, 16-deep k slices staged in shared memory as f32, 4×4 outputs
// per thread.
constexpr int kTile = 64, kDepth = 16;
template <typename T>
__global__ void gemm_kernel(const float* x, int64_t m, const T* w, int64_t n, int64_t k, float* y) {
  __shared__ float xs[kDepth][kTile + 4];
  __shared__ float ws[kDepth][kTile + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t row0 = int64_t(blockIdx.y) * kTile, col0 = int64_t(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kDepth) {
    for (int e = threadIdx.x; e < kTile * kDepth; e += blockDim.x) {
      const int r = e / kDepth, d = e % kDepth;
      const int64_t kk = k0 + d;
      xs[d][r] = (row0 + r < m && kk < k) ? x[(row0 + r) * k + kk] : 0.0f;
      ws[d][r] = (col0 + r < n && kk < k) ? load_as_f32(w, (col0 + r) * k + kk) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = xs[d][ty * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i) b[i] = ws[d][tx * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) acc[i][jj] += a[i] * b[jj];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      const int64_t r = row0 + ty * 4 + i, c = col0 + tx * 4 + jj;
      if (r < m && c < n) y[r * n + c] = acc[i][jj];
    }
}

template <typename T>
void matmul_typed(const float* x, int64_t m, const T* w, int64_t n, int64_t k, float* y) {
  if (m <= 16) {
    const int warps = 8;
    const dim3 grid(static_cast<unsigned>((n + warps - 1) / warps));
    if (m <= 1) matvec_kernel<T, 1><<<grid, warps * 32, 0, g_stream>>>(x, m, w, n, k, y);
    else if (m <= 4) matvec_kernel<T, 4><<<grid, warps * 32, 0, g_stream>>>(x, m, w, n, k, y);
    else if (m <= 8) matvec_kernel<T, 8><<<grid, warps * 32, 0, g_stream>>>(x, m, w, n, k, y);
    else matvec_kernel<T, 16><<<grid, warps * 32, 0, g_stream>>>(x, m, w, n, k, y);
  } else {
    const dim3 grid(static_cast<unsigned>((n + kTile - 1) / kTile), static_cast<unsigned>((m + kTile - 1) / kTile));
    gemm_kernel<T><<<grid, 256, 0, g_stream>>>(x, m, w, n, k, y);
  }
  check_launch("matmul");
}

// Paged attention, flash-decoding style: block (row, head, split) runs an online softmax over the
// slots of its split's pages, one warp per slot at a time (lanes split head_dim); a combine kernel
// merges the splits. A slot is visible to a query when its original position ≤ the query's.
constexpr int kAttnWarps = 4, kMaxPerLane = 8;  // head_dim ≤ 256

template <typename T>
__global__ void attention_split_kernel(AttentionArgs a, int32_t splits, int32_t pages_per_split) {
  const int32_t row = blockIdx.x, h = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int32_t hd = a.head_dim, group = a.n_heads / a.n_kv_heads, g = h / group;
  const HeadPages hp = a.heads[a.row_seq[row] * a.n_kv_heads + g];
  const float* q = a.q + (static_cast<int64_t>(row) * a.n_heads + h) * hd;
  const int32_t qp = a.q_pos[row];
  float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int idx = lane + 32 * e;
    qv[e] = idx < hd ? q[idx] : 0.0f;
    acc[e] = 0.0f;
  }
  float mx = -INFINITY, sum = 0.0f;
  const size_t row_bytes = static_cast<size_t>(hd) * sizeof(T);
  const int32_t p0 = split * pages_per_split;
  const int32_t total_pages = (hp.length + a.page_tokens - 1) / a.page_tokens;
  const int32_t p1 = min(total_pages, p0 + pages_per_split);
  for (int32_t p = p0; p < p1; ++p) {
    const uint8_t* page = a.page_ptrs[hp.first_page + p];
    const T* keys = reinterpret_cast<const T*>(page);
    const T* values = reinterpret_cast<const T*>(page + a.page_tokens * row_bytes);
    const int32_t* pos = reinterpret_cast<const int32_t*>(page + 2 * a.page_tokens * row_bytes);
    const int32_t count = min(a.page_tokens, hp.length - p * a.page_tokens);
    for (int32_t s = warp; s < count; s += kAttnWarps) {
      if (pos[s] > qp) continue;
      float d = 0.0f;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int idx = lane + 32 * e;
        if (idx < hd) d += qv[e] * load_as_f32(keys, static_cast<int64_t>(s) * hd + idx);
      }
      for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
      const float m_new = fmaxf(mx, d);
      const float corr = expf(mx - m_new), pw = expf(d - m_new);
      sum = sum * corr + pw;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int idx = lane + 32 * e;
        if (idx < hd) acc[e] = acc[e] * corr + pw * load_as_f32(values, static_cast<int64_t>(s) * hd + idx);
      }
      mx = m_new;
    }
  }
  // Merge the warps of this block, then write the split's (max, sum, acc).
  __shared__ float s_mx[kAttnWarps], s_sum[kAttnWarps], s_acc[kAttnWarps][32 * kMaxPerLane];
  if (lane == 0) {
    s_mx[warp] = mx;
    s_sum[warp] = sum;
  }
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) s_acc[warp][lane + 32 * e] = acc[e];
  __syncthreads();
  if (warp != 0) return;
  float m_all = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) m_all = fmaxf(m_all, s_mx[w]);
  float l_all = 0.0f, o[kMaxPerLane] = {};
  if (m_all != -INFINITY)
    for (int w = 0; w < kAttnWarps; ++w) {
      if (s_mx[w] == -INFINITY) continue;
      const float c = expf(s_mx[w] - m_all);
      l_all += s_sum[w] * c;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) o[e] += s_acc[w][lane + 32 * e] * c;
    }
  float* out = a.scratch + ((static_cast<int64_t>(row) * a.n_heads + h) * splits + split) * (hd + 2);
  if (lane == 0) {
    out[0] = m_all;
    out[1] = l_all;
  }
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int idx = lane + 32 * e;
    if (idx < hd) out[2 + idx] = o[e];
  }
}

__global__ void attention_combine_kernel(AttentionArgs a, int32_t splits) {
  const int32_t row = blockIdx.x, h = blockIdx.y, hd = a.head_dim;
  const float* part = a.scratch + (static_cast<int64_t>(row) * a.n_heads + h) * splits * (hd + 2);
  float m_all = -INFINITY;
  for (int32_t s = 0; s < splits; ++s) m_all = fmaxf(m_all, part[s * (hd + 2)]);
  float* out = a.out + (static_cast<int64_t>(row) * a.n_heads + h) * hd;
  for (int32_t i = threadIdx.x; i < hd; i += blockDim.x) {
    // Every slot hidden from this query (a press dropped them all): output 0, as on the CPU.
    if (m_all == -INFINITY) {
      out[i] = 0.0f;
      continue;
    }
    float l = 0.0f, o = 0.0f;
    for (int32_t s = 0; s < splits; ++s) {
      const float* p = part + s * (hd + 2);
      if (p[0] == -INFINITY) continue;
      const float c = expf(p[0] - m_all);
      l += p[1] * c;
      o += p[2 + i] * c;
    }
    out[i] = o / l;
  }
}

int32_t attention_splits(int32_t rows, int32_t n_heads, int32_t max_pages) {
  // Enough blocks to fill the device at decode (few rows); one split per head when rows already do.
  const int32_t blocks = std::max(1, rows * n_heads);
  const int32_t want = std::max(1, 1024 / blocks);
  return std::max(1, std::min(want, max_pages));
}

template <typename T>
__global__ void probe_kernel(T* out) {
  if (threadIdx.x == 0) out[0] = T(1);
}

}  // namespace

void use_device(int32_t index) {
  static int32_t ready_device = -1;  // the device already checked and current on this process's threads
  if (ready_device == index) {
    if (cudaSetDevice(index) == cudaSuccess) return;
    cudaGetLastError();
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw EngineError(ErrorCode::DeviceUnavailable, std::string("no usable CUDA device: ") + cudaGetErrorString(err));
  }
  if (index < 0 || index >= count)
    throw EngineError(ErrorCode::DeviceUnavailable, "CUDA device " + std::to_string(index) + " does not exist (" +
                                                        std::to_string(count) + " device(s) present)");
  err = cudaSetDevice(index);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw EngineError(ErrorCode::DeviceUnavailable, std::string("cannot use CUDA device: ") + cudaGetErrorString(err));
  }
  if (!g_stream) {
    err = cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw EngineError(ErrorCode::DeviceUnavailable, std::string("cannot create a CUDA stream: ") + cudaGetErrorString(err));
    }
  }
  // A kernel launch proves this build carries code the device can run (sm_80 / sm_90 / PTX).
  float* probe = nullptr;
  check(cudaMalloc(&probe, sizeof(float)), "device probe");
  probe_kernel<float><<<1, 32, 0, g_stream>>>(probe);
  err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaStreamSynchronize(g_stream);
  cudaFree(probe);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw EngineError(ErrorCode::DeviceUnavailable, std::string("the CUDA device cannot run presskv's kernels: ") +
                                                        cudaGetErrorString(err));
  }
  ready_device = index;
}

MemoryInfo memory_info() {
  MemoryInfo info;
  check(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo");
  return info;
}

void* alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    throw EngineError(ErrorCode::OutOfMemory, std::string("GPU out of memory allocating ") + std::to_string(bytes) +
                                                  " bytes for " + what + " (" + std::to_string(free_bytes) + " of " +
                                                  std::to_string(total) + " bytes free)");
  }
  return p;
}

void release(void* ptr) {
  if (ptr) cudaFree(ptr);
}

void upload(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_stream), "upload");
}

void download(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_stream), "download");
  check(cudaStreamSynchronize(g_stream), "download");
}

void synchronize() { check(cudaStreamSynchronize(g_stream), "synchronize"); }

void embed_rows(const void* table, DType dt, int64_t hidden, const int32_t* tokens, int32_t n, float* out) {
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((hidden + 255) / 256, 64)), static_cast<unsigned>(n));
  switch (dt) {
    case DType::F32: embed_kernel<<<grid, 256, 0, g_stream>>>(static_cast<const float*>(table), hidden, tokens, n, out); break;
    case DType::F16: embed_kernel<<<grid, 256, 0, g_stream>>>(static_cast<const __half*>(table), hidden, tokens, n, out); break;
    case DType::BF16:
      embed_kernel<<<grid, 256, 0, g_stream>>>(static_cast<const __nv_bfloat16*>(table), hidden, tokens, n, out);
      break;
  }
  check_launch("embed");
}

void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
  if (rows <= 0) return;
  const int threads = n >= 256 ? 256 : (n >= 64 ? 64 : 32);
  rmsnorm_kernel<<<static_cast<unsigned>(rows), threads, 0, g_stream>>>(x, w, y, n, eps);
  check_launch("rmsnorm");
}

static unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65535)); }

void add_bias(float* y, const float* b, int64_t rows, int64_t width) {
  if (rows * width == 0) return;
  add_bias_kernel<<<grid_for(rows * width), 256, 0, g_stream>>>(y, b, rows * width, width);
  check_launch("add_bias");
}

void rope_rows(float* x, int32_t rows, int32_t heads, int32_t head_dim, int32_t rope_dim, bool interleaved,
               const float* cs, float scale) {
  if (rows <= 0) return;
  rope_kernel<<<dim3(rows, heads), 64, 0, g_stream>>>(x, heads, head_dim, rope_dim, interleaved, cs, scale);
  check_launch("rope");
}

void matmul(const float* x, int64_t m, const void* w, DType wt, int64_t n, int64_t k, float* y) {
  if (m <= 0) return;
  switch (wt) {
    case DType::F32: matmul_typed(x, m, static_cast<const float*>(w), n, k, y); break;
    case DType::F16: matmul_typed(x, m, static_cast<const __half*>(w), n, k, y); break;
    case DType::BF16: matmul_typed(x, m, static_cast<const __nv_bfloat16*>(w), n, k, y); break;
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  if (!n) return;
  silu_mul_kernel<<<grid_for(n), 256, 0, g_stream>>>(gate, up, n);
  check_launch("silu_mul");
}

void add_inplace(float* h, const float* p, int64_t n) {
  if (!n) return;
  add_kernel<<<grid_for(n), 256, 0, g_stream>>>(h, p, n);
  check_launch("add");
}

size_t attention_scratch_floats(int32_t rows, int32_t n_heads, int32_t head_dim, int32_t max_pages) {
  return static_cast<size_t>(rows) * n_heads * attention_splits(rows, n_heads, std::max(1, max_pages)) * (head_dim + 2);
}

void paged_attention(const AttentionArgs& args) {
  if (args.rows <= 0) return;
  if (args.head_dim > 32 * kMaxPerLane)
    throw EngineError(ErrorCode::InvalidArgument, "GPU attention supports head_dim up to 256");
  const int32_t splits = attention_splits(args.rows, args.n_heads, std::max(1, args.max_pages));
  const int32_t per_split = (std::max(1, args.max_pages) + splits - 1) / splits;
  const dim3 grid(args.rows, args.n_heads, splits);
  if (args.dtype == DType::F16)
    attention_split_kernel<__half><<<grid, kAttnWarps * 32, 0, g_stream>>>(args, splits, per_split);
  else
    attention_split_kernel<float><<<grid, kAttnWarps * 32, 0, g_stream>>>(args, splits, per_split);
  check_launch("attention");
  attention_combine_kernel<<<dim3(args.rows, args.n_heads), 128, 0, g_stream>>>(args, splits);
  check_launch("attention combine");
}

}  // namespace presskv::cuda
