// Text forms of the IR: expressions in spec syntax (for diagrams, tables and messages) and the
// stable `--dump=ir` listing used by golden tests. Deterministic; no source line numbers in
// expression text.
#pragma once

#include <string>
#include <vector>

#include "ir.h"

namespace fsm::gen {

// `event` (when given) names payload fields; otherwise they print as $0, $1, …
std::string expr_text(const ir::Machine& m, ir::ExprId e, uint32_t event = ir::kNone);
std::string type_text(const ir::Machine& m, const ir::Type& t);
// "name: type, name: type" for event payloads and output arguments.
std::string fields_text(const ir::Machine& m, const std::vector<ir::Field>& f);
std::string dump_ir(const ir::Module& mod);

}  // namespace fsm::gen
