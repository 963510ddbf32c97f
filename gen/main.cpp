// fsmc: the command line of the spec compiler. Its interface is a contract other tools and
// the build rely on (spec/README.md "fsmc"): check, emit, prove, run, mutate, --dump.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "emit.h"
#include "frontend.h"
#include "interp.h"
#include "ir_text.h"
#include "lexer.h"
#include "mutate.h"
#include "prover.h"

namespace {

namespace fs = std::filesystem;
using fsm::gen::OutFile;

constexpr const char* kUsage =
    "usage: fsmc check FILE...\n"
    "       fsmc emit (--cpp|--smt|--dot|--table|--rc|--fuzz)... -o DIR FILE...\n"
    "       fsmc prove [--depth N] FILE...\n"
    "       fsmc run FILE [--machine NAME]   (events on standard input)\n"
    "       fsmc mutate [--root DIR] -o OUT CASE.mut\n"
    "       fsmc --dump=tokens|ir FILE...\n"
    "       fsmc --version\n";

int usage_error(const std::string& msg) {
  std::cerr << "fsmc: " << msg << "\n" << kUsage;
  return 2;
}

bool compile(const std::vector<std::string>& files, fsm::ir::Module& mod) {
  fsm::gen::Reporter rep;
  bool ok = fsm::gen::compile_files(files, rep, mod);
  for (const std::string& l : rep.lines()) std::cerr << l << "\n";
  if (!ok || rep.errors()) {
    std::cerr << rep.errors() << (rep.errors() == 1 ? " error" : " errors") << " generated.\n";
    return false;
  }
  return true;
}

// Writes `text` to `path` unless the file already holds exactly that (keeps build stamps).
bool write_if_changed(const fs::path& path, const std::string& text) {
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      if (ss.str() == text) return true;
    }
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  fs::rename(tmp, path, ec);
  return !ec;
}

int cmd_emit(const std::vector<std::string>& args) {
  std::vector<std::string> kinds, files;
  std::string dir;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o") {
      if (i + 1 == args.size()) return usage_error("-o needs a directory");
      dir = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      static const char* const known[] = {"--cpp", "--smt", "--dot", "--table", "--rc", "--fuzz"};
      bool ok = false;
      for (const char* k : known) ok = ok || a == k;
      if (!ok) return usage_error("unknown emit kind '" + a + "'");
      kinds.push_back(a);
    } else {
      files.push_back(a);
    }
  }
  if (kinds.empty()) return usage_error("emit needs at least one of --cpp --smt --dot --table --rc --fuzz");
  if (dir.empty()) return usage_error("emit needs -o DIR");
  if (files.empty()) return usage_error("emit needs at least one spec file");
  fsm::ir::Module mod;
  if (!compile(files, mod)) return 1;
  std::vector<OutFile> out;
  for (const std::string& k : kinds) {
    std::vector<OutFile> v;
    if (k == "--cpp") v = fsm::gen::emit_cpp(mod);
    else if (k == "--dot") v = fsm::gen::emit_dot(mod);
    else if (k == "--table") v = fsm::gen::emit_table(mod);
    else if (k == "--rc") v = fsm::gen::emit_rc(mod);
    else if (k == "--fuzz") v = fsm::gen::emit_fuzz(mod);
    else for (auto& [name, text] : fsm::proofs::smt_files(mod)) v.push_back({name, text});
    out.insert(out.end(), v.begin(), v.end());
  }
  for (const OutFile& f : out) {
    if (!write_if_changed(fs::path(dir) / f.name, f.text)) {
      std::cerr << "fsmc: cannot write " << (fs::path(dir) / f.name).string() << "\n";
      return 1;
    }
  }
  return 0;
}

int cmd_prove(const std::vector<std::string>& args) {
  fsm::proofs::Options opt;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--depth") {
      if (i + 1 == args.size()) return usage_error("--depth needs a number");
      opt.bmc_depth = static_cast<uint32_t>(std::strtoul(args[++i].c_str(), nullptr, 10));
    } else {
      files.push_back(args[i]);
    }
  }
  if (files.empty()) return usage_error("prove needs at least one spec file");
  fsm::ir::Module mod;
  if (!compile(files, mod)) return 1;
  std::string report;
  bool ok = fsm::proofs::prove(mod, opt, report);
  std::cout << report << std::flush;
  return ok ? 0 : 1;
}

int cmd_run(const std::vector<std::string>& args) {
  std::string file, machine;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--machine") {
      if (i + 1 == args.size()) return usage_error("--machine needs a name");
      machine = args[++i];
    } else if (file.empty()) {
      file = args[i];
    } else {
      return usage_error("run takes one spec file");
    }
  }
  if (file.empty()) return usage_error("run needs a spec file");
  fsm::ir::Module mod;
  if (!compile({file}, mod)) return 1;
  const fsm::ir::Machine* m = nullptr;
  for (const fsm::ir::Machine& x : mod.machines)
    if (machine.empty() || x.name == machine) { m = &x; break; }
  if (!m) {
    std::cerr << "fsmc: no machine '" << machine << "' in " << file << "\n";
    return 1;
  }
  if (machine.empty() && mod.machines.size() > 1) {
    std::cerr << "fsmc: " << file << " has several machines; name one with --machine\n";
    return 1;
  }
  return fsm::gen::run_interpreter(*m, std::cin, std::cout, std::cerr);
}

// The repository holding `path`: its nearest ancestor with `.git`, else the current directory.
fs::path repository_of(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
  for (fs::path dir = abs.parent_path(); !ec && !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ".git", ec)) return dir;
    if (dir == dir.root_path()) break;
  }
  return fs::current_path(ec);
}

int cmd_mutate(const std::vector<std::string>& args) {
  std::string root, out_path, file;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--root" || args[i] == "-o") {
      if (i + 1 == args.size()) return usage_error(args[i] + " needs a path");
      (args[i] == "-o" ? out_path : root) = args[i + 1];
      ++i;
    } else if (file.empty()) {
      file = args[i];
    } else {
      return usage_error("mutate takes one case file");
    }
  }
  if (file.empty()) return usage_error("mutate needs a case file");
  if (out_path.empty()) return usage_error("mutate needs -o OUT");
  // A case or spec file is a few KiB: anything past 4 MiB is refused rather than read whole.
  constexpr std::uintmax_t kMaxFileBytes = 4u << 20;
  auto slurp = [&](const fs::path& p, std::string& text) {
    std::error_code ec;
    const std::uintmax_t size = fs::file_size(p, ec);
    if (ec || size > kMaxFileBytes) return false;
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return text.size() <= kMaxFileBytes;
  };
  const std::string shown = fsm::gen::display_path(file);
  std::string text, spec_text, mutant;
  if (!slurp(file, text)) {
    std::cerr << shown << ":0:0: error: cannot read file (absent, unreadable or over 4 MiB)\n";
    return 1;
  }
  fsm::gen::Reporter rep;
  fsm::gen::MutationCase mc;
  bool ok = fsm::gen::parse_mutation(shown, text, rep, mc);
  if (ok) {
    const fs::path spec = (root.empty() ? repository_of(file) : fs::path(root)) / mc.spec;
    if (!slurp(spec, spec_text)) {
      rep.error(shown, fsm::ir::SrcLoc{mc.spec_line, mc.spec_col}, "cannot read the spec '" + spec.string() + "'");
      ok = false;
    }
  }
  ok = ok && fsm::gen::apply_mutation(shown, mc, spec_text, rep, mutant);
  for (const std::string& l : rep.lines()) std::cerr << l << "\n";
  if (!ok) return 1;
  if (!write_if_changed(out_path, mutant)) {
    std::cerr << "fsmc: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}

int cmd_dump(const std::string& pass, const std::vector<std::string>& files) {
  if (files.empty()) return usage_error("--dump needs at least one spec file");
  if (pass == "tokens") {
    int rc = 0;
    for (const std::string& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) { std::cerr << f << ":0:0: error: cannot read file\n"; rc = 1; continue; }
      std::ostringstream ss;
      ss << in.rdbuf();
      std::string text = ss.str();
      fsm::gen::LineMap lines(text);
      fsm::gen::Reporter rep;
      std::vector<fsm::gen::Token> toks;
      fsm::gen::lex(f, text, lines, rep, toks);
      for (const fsm::gen::Token& t : toks) {
        fsm::ir::SrcLoc l = lines.at(t.offset);
        std::cout << l.line << ":" << l.col << " " << fsm::gen::tok_kind_name(t.kind) << " " << t.text << "\n";
      }
      for (const std::string& e : rep.lines()) std::cerr << e << "\n";
      if (rep.errors()) rc = 1;
    }
    return rc;
  }
  if (pass == "ir") {
    fsm::ir::Module mod;
    if (!compile(files, mod)) return 1;
    std::cout << fsm::gen::dump_ir(mod);
    return 0;
  }
  return usage_error("unknown pass '" + pass + "' (expected tokens or ir)");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("missing command");
  std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "--version") {
    std::cout << fsm::ir::kGeneratorVersionString << "\n";
    return 0;
  }
  if (cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd.rfind("--dump=", 0) == 0) return cmd_dump(cmd.substr(7), rest);
  if (cmd == "check") {
    if (rest.empty()) return usage_error("check needs at least one spec file");
    fsm::ir::Module mod;
    return compile(rest, mod) ? 0 : 1;
  }
  if (cmd == "emit") return cmd_emit(rest);
  if (cmd == "prove") return cmd_prove(rest);
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "mutate") return cmd_mutate(rest);
  return usage_error("unknown command '" + cmd + "'");
}
