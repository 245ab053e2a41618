#pragma once
// prefillContext(tokens, pressConfig | null) on a session: the context's layer-major prefill with a press
// compressing each layer as it completes (DESIGN.md §4), run as a job on the runtime's worker.
#include <napi.h>

#include <memory>
#include <vector>

#include "addon/session-jobs.h"
#include "press/pipeline.h"

namespace presskv::addon {

// Parses a JS press config for a press that runs on the worker thread: a CustomScorerPress's score()
// is called through a blocking thread-safe call on the JS thread (the JS thread is free while it awaits
// the job). Throws EngineError (InvalidArgument) for malformed configs.
press::PressConfig parse_worker_press_config(Napi::Env env, Napi::Value value);

// → { tokensBefore, tokensAfter, bytesBefore, bytesAfter, tiedSlots, perLayer: [{ layer, perHead }], prefillMs,
//     nextPosition }. Progress (JsReply::set_progress): layers completed of every layer of the prefill and of
// its reconstruction passes.
// Needs an empty session. The whole context is one eval (the press needs every token of a layer before
// the next layer runs), so abort is honoured between chunks and layers, not between jobs. Afterwards the
// session holds the compressed cache and the last context token's logits; new tokens continue at the
// uncompressed length, or at the compressed length when the press re-rotated the keys (KeyRerotationPress,
// FinchPress), as kvpress does (press/context-prefill.h). A press that acts during decoding stays on the session for later evals.
class PrefillContextJob : public SessionJob {
 public:
  PrefillContextJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
                    std::vector<int32_t> tokens, std::shared_ptr<press::PressPipeline> pipeline);
  bool step() override;

 private:
  std::vector<int32_t> tokens_;
  std::shared_ptr<press::PressPipeline> pipeline_;
};

}  // namespace presskv::addon
