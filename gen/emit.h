// The back ends: each reads only the IR (ir.h) and returns the files it would write.
// File names derive from machine names; text is byte-identical for the same IR.
#pragma once

#include <string>
#include <vector>

#include "ir.h"

namespace fsm::gen {

struct OutFile {
  std::string name;  // relative to the output directory
  std::string text;
};

// One output per spec file (machines grouped by Machine::spec_path, in order), named by the
// spec file's base name without `.fsm`: `tis_locality.h`, `tis_locality.dot`, …
// Output never contains source line numbers or host paths.
std::vector<OutFile> emit_cpp(const ir::Module& m);    // <base>.h
std::vector<OutFile> emit_dot(const ir::Module& m);    // <base>.dot, and <system>.system.dot per system
std::vector<OutFile> emit_table(const ir::Module& m);  // <base>.md
std::vector<OutFile> emit_rc(const ir::Module& m);     // <base>_rc_test.cpp
std::vector<OutFile> emit_fuzz(const ir::Module& m);   // <base>_fuzz.cpp (+ seed files under <base>_seeds/)

// Naming shared by the emitters (so the C++, RC and fuzz back ends agree on identifiers).
std::string snake_case(const std::string& name);  // "TisLocality" -> "tis_locality"

}  // namespace fsm::gen
