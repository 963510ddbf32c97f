// The proof engines over an Encoder's transition system: inductive strengthening (Houdini-style
// 1-induction of a conjunction of claims), IC3/PDR reachability (pdr.cpp, for unbounded proofs),
// and incremental BMC (shortest witnesses and counterexample traces). prover.cpp decides which
// engine answers which obligation.
#pragma once

#include <z3++.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "encode.h"

namespace fsm::proofs {

// A condition on one reachable state and the event about to be delivered to it.
using Target = std::function<z3::expr(const Frame&, const Input&)>;

enum class Answer { Yes, No, Unknown };

// A solver for our QF_BV problems (the choice of Z3 back end lives here).
z3::solver make_solver(z3::context& c);

// Solver parameters every engine uses: fixed seeds and a per-query time limit.
void configure(z3::solver& s, uint32_t timeout_ms);

// Which claims hold in the initial state.
std::vector<bool> hold_initially(const Encoder& enc, const std::vector<Claim>& claims, uint32_t timeout_ms);

// Greatest subset of `candidates` (indices into claims) whose conjunction is preserved by every
// step: C(s) ∧ T(s,e,s') ⇒ C(s'). Candidates must hold initially; the result is then proven.
// Returns the surviving indices in ascending order; `complete` is false if a check gave up.
std::vector<size_t> inductive_subset(const Encoder& enc, const std::vector<Claim>& claims,
                                     std::vector<size_t> candidates, uint32_t timeout_ms, bool& complete);

// Is `pred` an invariant that 1-induction proves relative to `known`: it holds initially and
// known(s) ∧ pred(s) ∧ T(s,e,s') ⇒ pred(s')? (Used to show reachability targets unreachable.)
Answer relatively_inductive(const Encoder& enc, const std::function<z3::expr(const Frame&)>& pred,
                            const std::vector<const Claim*>& known, uint32_t timeout_ms);

// IC3/PDR over the state bits (pdr.cpp): is some reachable state (with a valid input) in `bad`?
// `known` are proven invariants used to strengthen the step relation. Yes = reachable,
// No = unreachable (an inductive invariant was found), Unknown = time limit.
Answer pdr_reachable(const Encoder& enc, const Target& bad, const std::vector<const Claim*>& known,
                     uint32_t timeout_ms);

// Incremental bounded model checking from the initial state. Frames are kept across searches.
class Bmc {
 public:
  struct Witness {
    uint32_t steps = 0;
    std::vector<std::string> trace;  // "code(value=3) -> Blocked", one per step
    std::string state;               // the last state's values
    std::string input;               // the event at the last state (targets that use it)
    double secs = 0;                 // time from the start of the search until it was found
  };
  Bmc(const Encoder& enc, uint32_t timeout_ms);
  // Adds a proven invariant as a constraint on every frame (prunes the search, keeps answers).
  void assume(const Claim& lemma);
  // Shortest witness for each target within `max_depth` steps (nullopt: none found). One search
  // takes at most the time limit; `gave_up` is set when it stopped before the depth was exhausted.
  std::vector<std::optional<Witness>> search(const std::vector<Target>& targets, uint32_t max_depth,
                                             bool& gave_up);

 private:
  void extend();  // adds frame k+1 and the step k -> k+1
  const Encoder& enc_;
  uint32_t timeout_ms_;
  z3::solver solver_;
  std::vector<const Claim*> lemmas_;
  std::vector<Frame> frames_;
  std::vector<Input> inputs_;  // inputs_[k] is the event delivered in frames_[k]
  Frame tmpl_;
  Input tmpl_in_;
  Frame tmpl_next_;
};

}  // namespace fsm::proofs
