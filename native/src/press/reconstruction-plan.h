#pragma once
// A reconstructing press's record of the passes it asked for in this prefill (KVzip, KVCompose): which
// context slots each pass scores, and whether every pass was scored at every layer before the decision.
#include <string>
#include <utility>
#include <vector>

#include "press/press.h"
#include "press/reconstruction-attention.h"

namespace presskv::press {

class ReconstructionPlan {
 public:
  // Forgets the previous prefill's passes (Press::begin).
  void reset() { *this = ReconstructionPlan(); }
  // Records `passes` for a model of n_layers layers and hands them back (Press::reconstruction_passes).
  std::vector<ReconstructionPass> adopt(std::vector<ReconstructionPass> passes, int32_t n_layers);
  // The slots pass `pass` scores, as attention options; counts one scored layer of that pass.
  PassAttentionOptions score_layer(int32_t pass);
  // Internal error unless the passes were planned and each was scored at every layer.
  void require_complete(const std::string& press) const;

 private:
  std::vector<std::pair<int32_t, int32_t>> chunks_;  // per pass: [begin, end)
  std::vector<int32_t> layers_scored_;               // per pass
  int32_t n_layers_ = 0;
  bool planned_ = false;
};

}  // namespace presskv::press
