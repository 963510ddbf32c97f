// Front-end driver: file text => lexer => parser => checker (see frontend.h).
#include "frontend.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "checker.h"
#include "lexer.h"
#include "parser.h"
#include "system.h"

namespace fsm::gen {

namespace {

// One file's machines (its systems wait until every file's machines are checked).
bool compile_machines(const std::string& display_path, const std::string& text, Reporter& rep,
                      ir::Module& out, ast::File& f) {
  size_t before = rep.errors();
  LineMap lines(text);
  std::vector<Token> toks;
  lex(display_path, text, lines, rep, toks);
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

}  // namespace

bool compile_source(const std::string& display_path, const std::string& text, Reporter& rep,
                    ir::Module& out) {
  ast::File f;
  bool ok = compile_machines(display_path, text, rep, out, f);
  return check_systems({&f}, rep, out) && ok;
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
  std::vector<ast::File> files(paths.size());
  for (size_t k = 0; k < paths.size(); ++k) {
    const std::string& p = paths[k];
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      rep.error(p, ir::SrcLoc{0, 0}, "cannot read file");
      ok = false;
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    ok = compile_machines(display_path(p), ss.str(), rep, out, files[k]) && ok;
  }
  // Systems name machines of any given file.
  std::vector<const ast::File*> all;
  for (const ast::File& f : files) all.push_back(&f);
  return check_systems(all, rep, out) && ok;
}

}  // namespace fsm::gen
