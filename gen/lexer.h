// Lexer for .fsm specs: source text => tokens with byte offsets (input to parser.cpp).
// The scanner itself is a Ragel machine (lexer.rl); keywords are plain identifiers here and
// are recognised by the parser. Errors (bad character, unterminated string or comment,
// integer too large) are reported and the offending bytes skipped, so lexing always finishes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diag.h"

namespace fsm::gen {

enum class Tok : uint8_t { End, Ident, Int, String, Punct };

struct Token {
  Tok kind = Tok::End;
  std::string_view text;   // for String: the contents without quotes, escapes not yet resolved
  uint32_t value = 0;      // Int: the value
  uint32_t offset = 0;     // byte offset of the token's first character
};

// Maps byte offsets to 1-based line:column.
class LineMap {
 public:
  explicit LineMap(std::string_view text);
  ir::SrcLoc at(uint32_t offset) const;

 private:
  std::vector<uint32_t> starts_;
};

// Appends the tokens of `text` (always ending with one Tok::End) to `out`.
void lex(const std::string& file, std::string_view text, const LineMap& lines, Reporter& rep,
         std::vector<Token>& out);

const char* tok_kind_name(Tok k);

}  // namespace fsm::gen
