// Diagnostics reporter passed into every front-end pass (never a global, never thrown).
// Messages are stable, lower-case, and say what was expected and what was found; each line is
// `file:line:col: error: message`. Passes keep going after an error.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "ir.h"

namespace fsm::gen {

class Reporter {
 public:
  void error(const std::string& file, ir::SrcLoc loc, const std::string& msg) {
    diags_.push_back({file, loc, msg});
  }
  size_t errors() const { return diags_.size(); }
  // Diagnostics as lines; within each file in line:column order (lexer, parser and checker
  // errors interleave by position), files in the order they were first reported.
  std::vector<std::string> lines() const {
    std::vector<const Diag*> order;
    for (const Diag& d : diags_) order.push_back(&d);
    std::stable_sort(order.begin(), order.end(), [&](const Diag* a, const Diag* b) {
      if (a->file != b->file) return first_index(a->file) < first_index(b->file);
      return a->loc.line != b->loc.line ? a->loc.line < b->loc.line : a->loc.col < b->loc.col;
    });
    std::vector<std::string> out;
    for (const Diag* d : order)
      out.push_back(d->file + ":" + std::to_string(d->loc.line) + ":" + std::to_string(d->loc.col) +
                    ": error: " + d->msg);
    return out;
  }

 private:
  struct Diag {
    std::string file;
    ir::SrcLoc loc;
    std::string msg;
  };
  size_t first_index(const std::string& file) const {
    for (size_t i = 0; i < diags_.size(); ++i)
      if (diags_[i].file == file) return i;
    return diags_.size();
  }
  std::vector<Diag> diags_;
};

}  // namespace fsm::gen
