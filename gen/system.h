// Systems (spec/README.md "Systems"): checks each `system` of the given files against the
// machines of all given files and builds its product machine (ir::System::product) from the
// instances' checked IR, so the prover reuses the one machine encoding (proofs/encode.*).
// Every misuse is a file:line:col diagnostic; checking goes on after an error.
#pragma once

#include <vector>

#include "ast.h"
#include "diag.h"
#include "ir.h"

namespace fsm::gen {

// `files`: every parsed file of the run (machines that failed to check are known by name and
// not reported again). Appends one ir::System per error-free system; false on any error.
bool check_systems(const std::vector<const ast::File*>& files, Reporter& rep, ir::Module& mod);

}  // namespace fsm::gen
