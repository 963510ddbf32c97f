// libFuzzer harness for the spec front end (STYLE.md 11: a parser's harness calls the function
// production calls): arbitrary bytes go to compile_source() as spec text, which must report errors
// and never crash; whatever it accepts then goes through every text back end, which must not
// crash either. Seed corpus: fuzz/corpus/spec_parser/ (valid and invalid specs).
#include <cstddef>
#include <cstdint>
#include <string>

#include "diag.h"
#include "emit.h"
#include "frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fsm::gen::Reporter rep;
  fsm::ir::Module mod;
  const bool ok = fsm::gen::compile_source("fuzz.fsm", text, rep, mod);
  if (ok != (rep.errors() == 0)) __builtin_trap();  // success exactly when nothing was reported
  if (!ok) return 0;
  size_t bytes = 0;
  for (const fsm::gen::OutFile& f : fsm::gen::emit_cpp(mod)) bytes += f.text.size();
  for (const fsm::gen::OutFile& f : fsm::gen::emit_rc(mod)) bytes += f.text.size();
  for (const fsm::gen::OutFile& f : fsm::gen::emit_fuzz(mod)) bytes += f.text.size();
  for (const fsm::gen::OutFile& f : fsm::gen::emit_dot(mod)) bytes += f.text.size();
  for (const fsm::gen::OutFile& f : fsm::gen::emit_table(mod)) bytes += f.text.size();
  if (!mod.machines.empty() && bytes == 0) __builtin_trap();  // a machine always yields output
  return 0;
}
