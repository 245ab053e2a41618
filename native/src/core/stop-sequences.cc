#include "core/stop-sequences.h"

#include <algorithm>

namespace presskv {

StopSequenceMatcher::StopSequenceMatcher(std::vector<std::string> sequences) {
  for (auto& s : sequences)
    if (!s.empty()) longest_ = std::max(longest_, s.size());
  sequences_ = std::move(sequences);
}

int32_t StopSequenceMatcher::push(const std::string& token_bytes) {
  if (sequences_.empty() || token_bytes.empty()) return -1;
  const size_t old_size = tail_.size();
  tail_ += token_bytes;
  int32_t best = -1;
  size_t best_end = std::string::npos;
  for (size_t i = 0; i < sequences_.size(); i++) {
    const std::string& s = sequences_[i];
    if (s.empty() || s.size() > tail_.size()) continue;
    // Only matches that end inside the new bytes are new; older ones would have stopped us already.
    const size_t from = old_size + 1 > s.size() ? old_size + 1 - s.size() : 0;
    const size_t at = tail_.find(s, from);
    if (at == std::string::npos) continue;
    const size_t end = at + s.size();
    if (end < best_end) best = int32_t(i), best_end = end;
  }
  if (tail_.size() > longest_) tail_.erase(0, tail_.size() - longest_);
  return best;
}

}  // namespace presskv
