// Checker: ast::File => ir::Machine per machine (checker.cpp). Resolves names, checks types,
// evaluates constants, enforces totality (every state declares every event exactly once) and
// exactly one initial state, lowers `b[i] := e` on bit sets and `else` guards, and puts the IR
// in the canonical order documented in frontend.h. Postcondition: see ir.h.
#pragma once

#include "ast.h"
#include "diag.h"
#include "ir.h"

namespace fsm::gen {

// Appends one checked machine per ast machine that has no errors; returns false on any error.
bool check(const ast::File& f, Reporter& rep, ir::Module& out);

}  // namespace fsm::gen
