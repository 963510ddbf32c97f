// The front end's entry points: spec text -> checked IR (lexer.rl -> parser -> checker).
// Diagnostics go to the Reporter; nothing is thrown. The checker canonicalises the IR so that
// reordering declarations in a spec does not change any back end's output (STYLE.md 5):
// enums, vars, events, outputs, states, invariants and reachability goals are sorted by name;
// enum members, payload fields and the transitions inside one `handle` keep source order;
// transition ids follow (state, event, source order) in that sorted order.
#pragma once

#include <string>
#include <vector>

#include "diag.h"
#include "ir.h"

namespace fsm::gen {

// Parses and checks one spec text. `display_path` names the file in diagnostics and in
// Machine::spec_path. On success appends the file's machines to `out` and returns true.
bool compile_source(const std::string& display_path, const std::string& text, Reporter& rep,
                    ir::Module& out);

// Reads and compiles files in order; then checks every file's systems against the machines
// of all the files (gen/system.h). Each file's display path is its path relative to the
// enclosing repository (the nearest ancestor directory holding `.git`), else as given.
bool compile_files(const std::vector<std::string>& paths, Reporter& rep, ir::Module& out);

// Path relative to the nearest ancestor holding `.git`, else the path as given (made relative
// to the current directory when possible), so no host path reaches generated output.
std::string display_path(const std::string& path);

}  // namespace fsm::gen
