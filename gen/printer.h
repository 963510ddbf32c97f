// A small structured printer for the emitters: `$name$` substitution and scoped indentation,
// so back ends never build output by ad-hoc string concatenation (STYLE.md 7).
// Output always uses "\n" line endings; indentation is two spaces per level.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace fsm::gen {

using Vars = std::vector<std::pair<std::string, std::string>>;

class Printer {
 public:
  // Prints `text`, replacing each `$name$` with its value from `vars` (`$$` prints `$`).
  // Indentation is inserted at the start of every non-empty line.
  void print(const std::string& text, const Vars& vars = {});
  void indent() { ++depth_; }
  void outdent() { if (depth_ > 0) --depth_; }
  const std::string& str() const { return out_; }

  // RAII indentation scope.
  class Scope {
   public:
    explicit Scope(Printer& p) : p_(p) { p_.indent(); }
    ~Scope() { p_.outdent(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
   private:
    Printer& p_;
  };

 private:
  void put(char c);
  std::string out_;
  int depth_ = 0;
  bool at_line_start_ = true;
};

}  // namespace fsm::gen
