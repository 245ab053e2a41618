#include "kv/kv-serialize.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace presskv {
namespace {

uint32_t dtype_code(DType dtype) {
  switch (dtype) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    default: throw EngineError(ErrorCode::Internal, std::string("cannot save a KV cache of dtype ") + dtype_name(dtype));
  }
}

const char* code_name(uint32_t code) { return code == 0 ? "f32" : code == 1 ? "f16" : "an unknown dtype"; }

}  // namespace

void PagedKvCache::append_rows(int32_t layer, int32_t kv_head, int32_t n, const uint8_t* k, const uint8_t* v,
                               const int32_t* positions) {
  KvHead& h = head_mut(layer, kv_head);
  const size_t rb = row_bytes();
  int32_t i = 0;
  while (i < n) {
    const int32_t slot = h.length;
    const size_t page_index = static_cast<size_t>(slot / page_tokens_);
    const int32_t in_page = slot % page_tokens_;
    if (page_index == h.pages.size()) h.pages.push_back(new_page());
    KvPage& p = writable(h, page_index);
    // Whole runs per page: one memcpy for the K rows, one for the V rows, one for the positions.
    const int32_t run = std::min(n - i, page_tokens_ - in_page);
    p.mark_dirty(in_page, in_page + run);
    std::memcpy(slot_k(p, in_page), k + size_t(i) * rb, size_t(run) * rb);
    std::memcpy(slot_v(p, in_page), v + size_t(i) * rb, size_t(run) * rb);
    std::memcpy(slot_pos(p) + in_page, positions + i, size_t(run) * sizeof(int32_t));
    h.length += run;
    i += run;
  }
}

size_t kv_cache_section_bytes(const PagedKvCache& cache) {
  size_t slots = 0;
  for (int32_t l = 0; l < cache.n_layers(); ++l)
    for (int32_t g = 0; g < cache.n_kv_heads(); ++g) slots += size_t(cache.length(l, g));
  const size_t heads = size_t(cache.n_layers()) * cache.n_kv_heads();
  return 5 * 4 + heads * 4 + slots * (4 + 2 * cache.row_bytes());
}

void write_kv_cache(const PagedKvCache& cache, ByteWriter& out) {
  out.u32(dtype_code(cache.dtype()));
  out.u32(uint32_t(cache.n_layers()));
  out.u32(uint32_t(cache.n_kv_heads()));
  out.u32(uint32_t(cache.head_dim()));
  out.i32(cache.next_position());
  for (int32_t l = 0; l < cache.n_layers(); ++l)
    for (int32_t g = 0; g < cache.n_kv_heads(); ++g) out.i32(cache.length(l, g));
  const int32_t pt = cache.page_tokens();
  const size_t rb = cache.row_bytes();
  for (int32_t l = 0; l < cache.n_layers(); ++l)
    for (int32_t g = 0; g < cache.n_kv_heads(); ++g) {
      const KvHead& h = cache.head(l, g);
      for (int32_t s = 0; s < h.length; s += pt)
        out.bytes(cache.positions(*h.pages[s / pt]), size_t(std::min(pt, h.length - s)) * sizeof(int32_t));
      for (int32_t s = 0; s < h.length; s += pt)
        out.bytes(cache.keys(*h.pages[s / pt]), size_t(std::min(pt, h.length - s)) * rb);
      for (int32_t s = 0; s < h.length; s += pt)
        out.bytes(cache.values(*h.pages[s / pt]), size_t(std::min(pt, h.length - s)) * rb);
    }
}

void read_kv_cache(ByteReader& in, PagedKvCache& cache) {
  const uint32_t dtype = in.u32("the KV dtype");
  if (dtype > 1) in.corrupt("unknown KV dtype code " + std::to_string(dtype));
  if (dtype != dtype_code(cache.dtype()))
    in.corrupt(std::string("it holds a ") + code_name(dtype) + " KV cache but this runtime stores " +
               dtype_name(cache.dtype()) + " (load it into a model loaded with kvDtype '" + code_name(dtype) + "')");
  const uint32_t n_layers = in.u32("the layer count");
  const uint32_t n_kv_heads = in.u32("the KV head count");
  const uint32_t head_dim = in.u32("the head size");
  if (n_layers != uint32_t(cache.n_layers()) || n_kv_heads != uint32_t(cache.n_kv_heads()) ||
      head_dim != uint32_t(cache.head_dim()))
    in.corrupt("its shape (" + std::to_string(n_layers) + " layers x " + std::to_string(n_kv_heads) +
               " KV heads x " + std::to_string(head_dim) + ") is not this model's (" + std::to_string(cache.n_layers()) +
               " x " + std::to_string(cache.n_kv_heads()) + " x " + std::to_string(cache.head_dim()) + ")");
  const int32_t next_position = in.i32("next_position");
  if (next_position < 0) in.corrupt("next_position is negative (" + std::to_string(next_position) + ")");
  if (next_position > cache.max_tokens())
    throw EngineError(ErrorCode::ContextOverflow, "the saved KV cache holds " + std::to_string(next_position) +
                                                      " positions, more than this session's context window of " +
                                                      std::to_string(cache.max_tokens()) + " tokens");
  const size_t heads = size_t(n_layers) * n_kv_heads;
  std::vector<int32_t> length(heads);
  std::memcpy(length.data(), in.take(heads * sizeof(int32_t), "the per-head lengths"), heads * sizeof(int32_t));
  // Check every declared size before allocating a single page.
  const size_t rb = cache.row_bytes();
  size_t needed = 0;
  for (size_t i = 0; i < heads; ++i) {
    if (length[i] < 0 || length[i] > next_position)
      in.corrupt("head " + std::to_string(i) + " claims " + std::to_string(length[i]) + " slots with next_position " +
                 std::to_string(next_position));
    needed += size_t(length[i]) * (sizeof(int32_t) + 2 * rb);
  }
  if (needed > in.remaining())
    in.corrupt("its heads need " + std::to_string(needed) + " bytes of positions and K/V rows, only " +
               std::to_string(in.remaining()) + " follow");
  std::vector<int32_t> positions;
  for (int32_t l = 0; l < cache.n_layers(); ++l)
    for (int32_t g = 0; g < cache.n_kv_heads(); ++g) {
      const int32_t n = length[size_t(l) * n_kv_heads + g];
      positions.resize(size_t(n));
      std::memcpy(positions.data(), in.take(size_t(n) * sizeof(int32_t), "slot positions"), size_t(n) * sizeof(int32_t));
      // Slots stay in position order (truncate relies on it), each below next_position.
      for (int32_t s = 0; s < n; ++s)
        if (positions[s] < 0 || positions[s] >= next_position || (s > 0 && positions[s] <= positions[s - 1]))
          in.corrupt("layer " + std::to_string(l) + " head " + std::to_string(g) + " slot " + std::to_string(s) +
                     " has position " + std::to_string(positions[s]) +
                     " (positions must increase and stay below next_position " + std::to_string(next_position) + ")");
      const uint8_t* k = in.take(size_t(n) * rb, "K rows");
      const uint8_t* v = in.take(size_t(n) * rb, "V rows");
      cache.append_rows(l, g, n, k, v, positions.data());
    }
  cache.advance(next_position);
}

}  // namespace presskv
