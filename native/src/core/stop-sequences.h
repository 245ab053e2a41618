#pragma once
// Finds stop sequences in the byte stream of generated text as tokens arrive, so generation can stop
// on the very token that completes a match (a match may span several tokens).
#include <cstdint>
#include <string>
#include <vector>

namespace presskv {

class StopSequenceMatcher {
 public:
  explicit StopSequenceMatcher(std::vector<std::string> sequences);

  // Appends the bytes a token contributes; returns the index of the first stop sequence that now
  // occurs in the text (earliest end, then lowest index), or -1.
  int32_t push(const std::string& token_bytes);
  bool empty() const { return sequences_.empty(); }

 private:
  std::vector<std::string> sequences_;
  size_t longest_ = 0;
  std::string tail_;  // the last bytes of the text, enough to hold any match that ends in new bytes
};

}  // namespace presskv
