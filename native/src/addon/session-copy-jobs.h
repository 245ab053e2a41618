#pragma once
// Jobs that copy a session's state on the runtime's worker (never on the JS thread): fork (copy-on-write,
// no K/V bytes copied), saveKv (to a page-size independent payload) and loadKv (back from one). Each runs in
// its session's lane, so it sees the state left by every earlier call on that session, pending token included.
#include <cstdint>
#include <memory>
#include <vector>

#include "addon/session-jobs.h"

namespace presskv::addon {

// fork() → the child session (built on the JS thread, kept by the reply): it gets the parent's history,
// pending tokens, kept logits and a cache sharing every page with the parent's.
class ForkJob : public SessionJob {
 public:
  ForkJob(RuntimeCore* runtime, std::shared_ptr<SessionState> parent, std::unique_ptr<JsReply> reply,
          std::shared_ptr<SessionState> child);
  bool step() override;

 private:
  std::shared_ptr<SessionState> child_;
};

// saveKv() → Uint8Array (addon/session-snapshot.h).
class SaveKvJob : public SessionJob {
 public:
  SaveKvJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply);
  bool step() override;
};

// loadKv(bytes): replaces the session's content with the payload's, all or nothing. The bytes belong to a
// Uint8Array the reply keeps alive until the job is done.
class LoadKvJob : public SessionJob {
 public:
  LoadKvJob(RuntimeCore* runtime, std::shared_ptr<SessionState> state, std::unique_ptr<JsReply> reply,
            const uint8_t* data, size_t size);
  bool step() override;

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace presskv::addon
