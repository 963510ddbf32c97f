// Public entry points of the prover, called by `fsmc prove` and `fsmc emit --smt` (gen/main.cpp).
// prove() discharges every obligation of every machine (invariants, implicit range invariants,
// guard exclusivity, state reachability, reachability goals) with Z3 and writes a report;
// smt_files() renders each spec file's transition system as deterministic SMT-LIB2 text.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir.h"

namespace fsm::proofs {

struct Options {
  uint32_t bmc_depth = 30;     // deepest counterexample / witness searched, in steps
  uint32_t timeout_ms = 60000; // limit of each solver query
};

// Proves every obligation of every machine in the module, then of every system (its product
// machine, ir::System::product: its invariants, capacity_<link>, ranges and goals). Appends a human-readable report
// (per-obligation lines, counterexamples, and a per-machine summary line with times) to `out`.
// Returns true iff every obligation holds. Never throws Z3 errors; they become failure lines.
bool prove(const ir::Module& m, const Options& opt, std::string& out);

// SMT-LIB2 text of each spec file's transition system, one entry per spec file, named
// "<base>.smt2" (base = basename of Machine::spec_path without ".fsm"); deterministic text.
std::vector<std::pair<std::string, std::string>> smt_files(const ir::Module& m);

}  // namespace fsm::proofs
