// Front-end driver: file text => lexer => parser => checker (see frontend.h).
#include "frontend.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "checker.h"
#include "lexer.h"
#include "parser.h"

namespace fsm::gen {

bool compile_source(const std::string& display_path, const std::string& text, Reporter& rep,
                    ir::Module& out) {
  size_t before = rep.errors();
  LineMap lines(text);
  std::vector<Token> toks;
  lex(display_path, text, lines, rep, toks);
  ast::File f;
  f.path = display_path;
  parse(toks, lines, rep, f);
  bool parsed = rep.errors() == before;
  // The parser keeps only items that parsed, so the checker still reports on the rest; but a
  // file with syntax errors never yields IR.
  ir::Module checked;
  bool ok = check(f, rep, checked);
  if (!parsed || !ok) return false;
  for (ir::Machine& m : checked.machines) out.machines.push_back(std::move(m));
  return true;
}

std::string display_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return path;
  for (fs::path dir = abs.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ".git", ec)) return abs.lexically_relative(dir).generic_string();
    if (dir == dir.root_path()) break;
  }
  fs::path rel = abs.lexically_relative(fs::current_path(ec));
  if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.generic_string();
  return abs.filename().generic_string();
}

bool compile_files(const std::vector<std::string>& paths, Reporter& rep, ir::Module& out) {
  bool ok = true;
  for (const std::string& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      rep.error(p, ir::SrcLoc{0, 0}, "cannot read file");
      ok = false;
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    ok = compile_source(display_path(p), ss.str(), rep, out) && ok;
  }
  return ok;
}

}  // namespace fsm::gen
