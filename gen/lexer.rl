// Ragel scanner for .fsm specs (compiled by `ragel -G2 -L`, so the generated C++ carries no
// host paths). See lexer.h for the contract; spec/README.md "Lexical rules" for the language.
#include "lexer.h"

#include <algorithm>

namespace fsm::gen {

LineMap::LineMap(std::string_view text) {
  starts_.push_back(0);
  for (uint32_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts_.push_back(i + 1);
}

ir::SrcLoc LineMap::at(uint32_t offset) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - starts_.begin());
  return ir::SrcLoc{line, offset - starts_[line - 1] + 1};
}

const char* tok_kind_name(Tok k) {
  switch (k) {
    case Tok::End: return "end of file";
    case Tok::Ident: return "identifier";
    case Tok::Int: return "integer";
    case Tok::String: return "string";
    case Tok::Punct: return "punctuation";
  }
  return "?";
}

namespace {

// Value of an integer literal (decimal, 0x hex, 0b binary, `_` separators); false on overflow.
bool int_value(std::string_view s, uint32_t& out) {
  uint32_t base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s.remove_prefix(2); }
  else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) { base = 2; s.remove_prefix(2); }
  uint64_t v = 0;
  for (char c : s) {
    if (c == '_') continue;
    uint32_t d = (c >= '0' && c <= '9') ? uint32_t(c - '0')
               : (c >= 'a' && c <= 'f') ? uint32_t(c - 'a' + 10) : uint32_t(c - 'A' + 10);
    v = v * base + d;
    if (v > 0xFFFFFFFFull) return false;
  }
  out = static_cast<uint32_t>(v);
  return true;
}

%%{
  machine fsm_lexer;
  alphtype unsigned char;

  ident = [A-Za-z_] [A-Za-z0-9_]*;
  dec = digit ( '_'? digit )*;
  hex = '0' [xX] xdigit ( '_'? xdigit )*;
  bin = '0' [bB] [01] ( '_'? [01] )*;
  str = '"' ( [^"\\\n] | '\\' [^\n] )* '"';
  punct2 = ':=' | '==' | '!=' | '<=' | '>=' | '&&' | '||' | '<<' | '>>' | '->' | '=>' | '..';
  punct1 = [{}()\[\];:,.<>+\-*/%&|^~!?=];

  main := |*
    ident  => { push(Tok::Ident, ts, te); };
    hex | bin | dec => {
      Token& t = push(Tok::Int, ts, te);
      if (!int_value(t.text, t.value))
        rep.error(file, lines.at(t.offset), "integer literal '" + std::string(t.text) + "' does not fit in 32 bits");
    };
    ( hex | bin | dec ) [A-Za-z_] [A-Za-z0-9_]* => {
      rep.error(file, lines.at(uint32_t(ts - base)), "malformed integer literal '" + std::string(reinterpret_cast<const char*>(ts), size_t(te - ts)) + "'");
    };
    str    => { Token& t = push(Tok::String, ts + 1, te - 1); t.offset = uint32_t(ts - base); };
    '"' [^"\n]* ( '\n' | zlen ) => {
      rep.error(file, lines.at(uint32_t(ts - base)), "unterminated string literal");
    };
    '//' [^\n]*;
    '/*' any* :>> '*/';
    '/*' ( any* - ( any* '*/' any* ) ) => {
      // only reached at end of input: the longest match without a closing '*/'
      rep.error(file, lines.at(uint32_t(ts - base)), "unterminated comment");
    };
    punct2 | punct1 => { push(Tok::Punct, ts, te); };
    space+;
    any => {
      unsigned char c = *ts;
      std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, char(c)) : ("\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + std::string(1, "0123456789abcdef"[c & 15]));
      rep.error(file, lines.at(uint32_t(ts - base)), "unexpected character '" + shown + "'");
    };
  *|;
}%%

%% write data nofinal noerror noentry;

}  // namespace

void lex(const std::string& file, std::string_view text, const LineMap& lines, Reporter& rep,
         std::vector<Token>& out) {
  const unsigned char* base = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* p = base;
  const unsigned char* pe = base + text.size();
  const unsigned char* eof = pe;
  const unsigned char* ts = nullptr;
  const unsigned char* te = nullptr;
  int cs = 0;
  int act = 0;
  (void)act;
  auto push = [&](Tok kind, const unsigned char* b, const unsigned char* e) -> Token& {
    Token t;
    t.kind = kind;
    t.text = std::string_view(reinterpret_cast<const char*>(b), size_t(e - b));
    t.offset = uint32_t(b - base);
    out.push_back(t);
    return out.back();
  };
  %% write init;
  %% write exec;
  Token end;
  end.kind = Tok::End;
  end.offset = uint32_t(text.size());
  out.push_back(end);
}

}  // namespace fsm::gen
