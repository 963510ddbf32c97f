// Parser: tokens => ast::File (parser.cpp). Contract: every syntax error is reported with
// file:line:col and what was expected versus found; the parser then skips to the end of the
// enclosing item (`;` or a balanced `}`) and goes on, so one run reports many errors.
#pragma once

#include <string>
#include <vector>

#include "ast.h"
#include "diag.h"
#include "lexer.h"

namespace fsm::gen {

void parse(const std::vector<Token>& toks, const LineMap& lines, Reporter& rep, ast::File& out);

}  // namespace fsm::gen
