#include "addon/session-snapshot.h"

#include <cstring>
#include <string>

#include "core/byte-io.h"
#include "kv/kv-serialize.h"

namespace presskv::addon {
namespace {

constexpr char kMagic[4] = {'P', 'K', 'V', 'S'};
const char* const kWhat = "the saved KV payload";

uint64_t mix(uint64_t h, uint64_t word) {
  h = (h ^ word) * 0xff51afd7ed558ccdull;
  return h ^ (h >> 29);
}

std::vector<int32_t> read_ids(ByteReader& in, uint32_t n, int32_t vocab, const char* field) {
  const uint8_t* at = in.take(size_t(n) * sizeof(int32_t), field);  // checks the size before allocating
  std::vector<int32_t> ids(n);
  if (n) std::memcpy(ids.data(), at, size_t(n) * sizeof(int32_t));
  for (uint32_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      in.corrupt(std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                 " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  return ids;
}

}  // namespace

uint64_t payload_checksum(const uint8_t* data, size_t size) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(size);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    h = mix(h, word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data + i, size - i);
  return mix(mix(h, tail), 0x2545F4914F6CDD1Dull);
}

std::vector<uint8_t> save_session(const SessionState& state, int32_t vocab) {
  if (!state.cache) throw EngineError(ErrorCode::InvalidArgument, "the session has been disposed");
  const PagedKvCache& cache = paged(*state.cache);
  ByteWriter out;
  out.reserve(4 + 5 * 4 + (state.history.size() + state.pending.size() + state.last_logits.size()) * 4 +
              kv_cache_section_bytes(cache) + 8);
  out.bytes(kMagic, 4);
  out.u32(kSessionPayloadVersion);
  out.u32(uint32_t(vocab));
  out.u32(uint32_t(state.history.size()));
  out.u32(uint32_t(state.pending.size()));
  out.u32(uint32_t(state.last_logits.size()));
  out.bytes(state.history.data(), state.history.size() * sizeof(int32_t));
  out.bytes(state.pending.data(), state.pending.size() * sizeof(int32_t));
  out.bytes(state.last_logits.data(), state.last_logits.size() * sizeof(float));
  write_kv_cache(cache, out);
  out.u64(payload_checksum(out.data(), out.size()));
  return out.take();
}

LoadedSession load_session(const uint8_t* data, size_t size, const ModelConfig& config, std::shared_ptr<KvPool> pool,
                           const KvCacheOptions& options) {
  ByteReader in(data, size, kWhat);
  if (size < 8 || std::memcmp(in.take(4, "the magic"), kMagic, 4) != 0)
    in.corrupt("it does not start with the \"PKVS\" magic (not a presskv KV payload)");
  const uint32_t version = in.u32("the format version");
  if (version != kSessionPayloadVersion)
    in.corrupt("format version " + std::to_string(version) + ", this engine reads version " +
               std::to_string(kSessionPayloadVersion));
  if (size < 8 + 8) in.corrupt("it is too short to hold a checksum");
  uint64_t stored;
  std::memcpy(&stored, data + size - 8, 8);
  if (payload_checksum(data, size - 8) != stored) in.corrupt("its checksum does not match (the bytes are damaged)");
  // Everything below reads inside the checksummed part only.
  ByteReader body(data + 8, size - 16, kWhat);
  const uint32_t vocab = body.u32("the vocabulary size");
  if (vocab != uint32_t(config.vocab))
    body.corrupt("it was saved for a vocabulary of " + std::to_string(vocab) + " tokens, this model has " +
                 std::to_string(config.vocab));
  const uint32_t n_history = body.u32("the history length");
  const uint32_t n_pending = body.u32("the pending count");
  const uint32_t n_logits = body.u32("the logits count");
  if (n_logits != 0 && n_logits != vocab)
    body.corrupt("it holds " + std::to_string(n_logits) + " logits, expected 0 or " + std::to_string(vocab));
  if (size_t(n_history) + n_pending > size_t(options.max_tokens > 0 ? options.max_tokens : config.context_length))
    throw EngineError(ErrorCode::ContextOverflow,
                      "the saved sequence has " + std::to_string(size_t(n_history) + n_pending) +
                          " tokens, more than this session's context window of " + std::to_string(options.max_tokens) +
                          " tokens");
  LoadedSession out;
  out.history = read_ids(body, n_history, int32_t(vocab), "history");
  out.pending = read_ids(body, n_pending, int32_t(vocab), "pending");
  const uint8_t* logits = body.take(size_t(n_logits) * 4, "the logits");
  out.last_logits.resize(n_logits);
  if (n_logits) std::memcpy(out.last_logits.data(), logits, size_t(n_logits) * 4);
  out.cache = KvCache::create(config, std::move(pool), options);
  read_kv_cache(body, paged(*out.cache));
  if (body.remaining() != 0) body.corrupt(std::to_string(body.remaining()) + " unexpected bytes follow the KV cache");
  return out;
}

}  // namespace presskv::addon
