// `fsmc mutate`: a mutation case (`*.mut`, format in spec/README.md "Mutation cases") names a
// real spec and line hunks to replace in it; applying it gives the broken spec a reject-dynamic
// test proves wrong. Every hunk must match exactly once in today's spec, so a case whose text
// drifted away fails loudly instead of testing an old copy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diag.h"

namespace fsm::gen {

struct MutationHunk {
  uint32_t line = 0;               // the `@@` line in the case file
  std::vector<std::string> find;   // context and `-` lines, in order
  std::vector<std::string> repl;   // context and `+` lines, in order
};

struct MutationCase {
  std::string spec;                      // `spec:` path, relative to the repository root
  uint32_t spec_line = 0, spec_col = 0;   // where the path is written
  std::string expect_fail;               // `expect-fail:` obligation name
  std::vector<std::string> also_fails;   // `also-fails:` names (may be empty)
  std::vector<std::string> broken;       // `broken:` lines
  std::vector<MutationHunk> hunks;
};

// Parses a case file; diagnostics name `file` with line:col.
bool parse_mutation(const std::string& file, const std::string& text, Reporter& rep, MutationCase& out);

// Applies the hunks of `mc` to `spec_text` (read from the file displayed as `spec_display`) and
// returns the mutant: a header of `// key: value` lines (expect-fail, also-fails, broken, spec,
// case) and then the mutated spec. Diagnostics point at the hunk that does not apply.
bool apply_mutation(const std::string& file, const MutationCase& mc, const std::string& spec_text,
                    Reporter& rep, std::string& mutant);

}  // namespace fsm::gen
