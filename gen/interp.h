// The reference interpreter of the IR behind `fsmc run`: the executable meaning of a spec,
// against which the property tests compare the generated C++ step by step. It prints the
// canonical step line documented in spec/README.md ("fsmc").
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "eval.h"
#include "fsm/fsm_runtime.h"
#include "ir.h"

namespace fsm::gen {

class Interpreter {
 public:
  explicit Interpreter(const ir::Machine& m);
  void reset();
  // Dispatches one event with its payload (args.size() must equal the event's field count).
  rt::Result step(uint32_t event, const std::vector<uint32_t>& args);
  // The canonical line for the last step (or for `init`).
  std::string line(const char* outcome, uint32_t code, uint32_t transition) const;
  // Names of the invariants (spec ones, then implicit range_<var>) that do not hold now.
  std::vector<std::string> violated() const;
  const Env& env() const { return env_; }

 private:
  const ir::Machine& m_;
  mutable Env env_;  // mutable: evaluating quantifiers writes bound-variable slots
  std::vector<std::string> outputs_;
};

// Runs the line protocol of `fsmc run` over `in`, writing step lines to `out` and input errors
// (`error: line N: …`) to `err`. Returns 0, or 2 after the first malformed input line.
int run_interpreter(const ir::Machine& m, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace fsm::gen
