#include "press/press-registry.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "press/scorer-press.h"

namespace presskv::press {
namespace {

// A function-local static: registrations run during static initialisation, in no defined order across
// files, so the table must exist before the first of them whichever file that is.
std::map<std::string, PressFactory>& registry() {
  static std::map<std::string, PressFactory> table;
  return table;
}

}  // namespace

void register_press(const char* name, PressFactory factory) {
  if (!registry().emplace(name, factory).second) {
    std::fprintf(stderr, "presskv: press '%s' is registered twice\n", name);
    std::abort();
  }
}

const std::vector<std::string>& press_names() {
  // Built on first use, which is after every registration (they all run while the addon loads).
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : registry()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

std::unique_ptr<Press> create_press(const PressConfig& config, const ModelConfig* model_config) {
  auto it = registry().find(config.name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& name : press_names()) known += (known.empty() ? "" : ", ") + name;
    throw EngineError(ErrorCode::InvalidArgument, "unknown press '" + config.name + "' (known: " + known + ")");
  }
  return it->second(config, model_config);
}

std::unique_ptr<Press> make_inner(const PressConfig& wrapper, const ModelConfig* model) {
  if (wrapper.children.size() != 1) invalid(wrapper.name, "needs exactly one inner press (option 'press')");
  return create_press(wrapper.children[0], model);
}

std::unique_ptr<Press> make_inner_scorer(const PressConfig& wrapper, const ModelConfig* model) {
  std::unique_ptr<Press> inner = make_inner(wrapper, model);
  if (!inner->is_scorer())
    invalid(wrapper.name, "wraps scorer presses only; " + inner->name() + " is not a scorer press");
  return inner;
}

}  // namespace presskv::press
