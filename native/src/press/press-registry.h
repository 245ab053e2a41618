#pragma once
// Press names → constructors. Each press's own .cc file registers its kvpress class name(s) next to the
// class, so adding a press touches no central table:
//
//   const PressRegistration<SnapKVPress> snapkv_registration("SnapKVPress");
//
// The registrations are static objects that run when the addon loads. That is only safe because the engine
// is a CMake OBJECT library whose objects are linked whole into presskv.node and presskv-testing.node; a
// static library (.a) would let the linker drop a press file that nothing references by symbol.
// test/press-extension.test.ts checks that both addons list every press the TS registry knows.
#include <memory>
#include <string>
#include <type_traits>

#include "press/press.h"

namespace presskv::press {

using PressFactory = std::unique_ptr<Press> (*)(const PressConfig&, const ModelConfig*);

// Adds `name` to the registry. Registering one name twice is a programming error: it aborts at load time
// with the name, rather than letting one press silently shadow the other.
void register_press(const char* name, PressFactory factory);

// Builds a P from its config, passing the model config to the presses whose constructors take it.
template <class P>
std::unique_ptr<Press> construct_press(const PressConfig& config, const ModelConfig* model) {
  if constexpr (std::is_constructible_v<P, const PressConfig&, const ModelConfig*>) return std::make_unique<P>(config, model);
  else return std::make_unique<P>(config);
}

template <class P>
struct PressRegistration {
  explicit PressRegistration(const char* name) { register_press(name, &construct_press<P>); }
};

// The single inner press of a wrapper (InvalidArgument when absent / more than one).
std::unique_ptr<Press> make_inner(const PressConfig& wrapper, const ModelConfig* model);
// Same, and requires a ScorerPress (a scorer-only wrapper around a non-scorer is InvalidArgument).
std::unique_ptr<Press> make_inner_scorer(const PressConfig& wrapper, const ModelConfig* model);

}  // namespace presskv::press
