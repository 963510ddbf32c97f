// Evaluation of IR expressions and statements over concrete values: the reference semantics
// shared by the checker (constant folding) and the interpreter behind `fsmc run`. It uses the
// operators of runtime/fsm/fsm_runtime.h, so it agrees with the generated C++ bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir.h"

namespace fsm::gen {

struct Env {
  uint32_t state = 0;
  std::vector<std::vector<uint32_t>> vars;   // one entry per variable; scalars have one element
  std::vector<uint32_t> params;              // payload of the event being handled
  std::vector<uint32_t> bounds;              // values of bound variables, by bound index
  std::vector<std::string>* outputs = nullptr;  // `emit` appends "name(a,b)" here when set
};

uint32_t eval_expr(const ir::Machine& m, ir::ExprId e, Env& env);
void exec_block(const ir::Machine& m, ir::BlockId b, Env& env);
// True when the expression reads no variable, parameter or state (so it folds to a constant).
bool is_constant(const ir::Machine& m, ir::ExprId e);
// Stores `v` into variable `var` (element `index` for arrays), truncating to the variable's width.
void store(const ir::Machine& m, uint32_t var, uint32_t index, uint32_t v, Env& env);

}  // namespace fsm::gen
