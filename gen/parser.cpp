// Recursive-descent parser for the grammar in spec/README.md (tokens => ast::File).
// Expressions use precedence climbing over the table below; error recovery skips to the end
// of the current item so later items are still checked.
#include "parser.h"

#include <cstring>

namespace fsm::gen {
namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& toks, const LineMap& lines, Reporter& rep, ast::File& f)
      : t_(toks), lines_(lines), rep_(rep), f_(f) {}

  void file() {
    while (!at_end()) {
      if (is_word("machine")) {
        machine();
      } else if (is_word("system")) {
        system();
      } else {
        error_expected("'machine' or 'system'");
        advance();
        while (!at_end() && !is_word("machine") && !is_word("system")) advance();
      }
    }
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return t_[pos_]; }
  bool at_end() const { return cur().kind == Tok::End; }
  ir::SrcLoc loc() const { return lines_.at(cur().offset); }
  void advance() { if (!at_end()) ++pos_; }
  bool is_punct(const char* p) const { return cur().kind == Tok::Punct && cur().text == p; }
  bool is_word(const char* w) const { return cur().kind == Tok::Ident && cur().text == w; }
  bool accept_punct(const char* p) { if (is_punct(p)) { advance(); return true; } return false; }
  bool accept_word(const char* w) { if (is_word(w)) { advance(); return true; } return false; }

  std::string found() const {
    switch (cur().kind) {
      case Tok::End: return "end of file";
      case Tok::String: return "string";
      default: return "'" + std::string(cur().text) + "'";
    }
  }
  void error_expected(const std::string& what) {
    if (!ok_) return;  // one error per item
    rep_.error(f_.path, loc(), "expected " + what + ", found " + found());
    ok_ = false;
  }
  bool expect_punct(const char* p) {
    if (accept_punct(p)) return true;
    error_expected(std::string("'") + p + "'");
    return false;
  }
  bool expect_word(const char* w) {
    if (accept_word(w)) return true;
    error_expected(std::string("'") + w + "'");
    return false;
  }
  static bool reserved(std::string_view w) {
    static const char* const kw[] = {"machine", "const", "enum", "var", "event", "output", "initial",
        "state", "on", "handle", "ignore", "defer", "reject", "others", "when", "always", "else",
        "if", "for", "in", "emit", "invariant", "reachable", "req", "true", "false", "count",
        "forall", "exists", "highest", "lowest", "bool"};
    for (const char* k : kw) if (w == k) return true;
    return false;
  }
  bool ident(std::string& out, const char* what) {
    if (cur().kind == Tok::Ident && !reserved(cur().text)) {
      out = std::string(cur().text);
      advance();
      return true;
    }
    error_expected(what);
    return false;
  }
  // Skips to the end of the current item: past the next `;` at depth 0, or past a balanced `}`
  // block, stopping before a `}` that closes an enclosing block.
  void recover() {
    int depth = 0;
    while (!at_end()) {
      if (is_punct("{")) ++depth;
      else if (is_punct("}")) {
        if (depth == 0) return;
        if (--depth == 0) { advance(); return; }
      } else if (is_punct(";") && depth == 0) { advance(); return; }
      advance();
    }
  }
  void reqs(std::vector<std::string>& out) {
    while (accept_word("req")) {
      if (cur().kind != Tok::String) { error_expected("a string after 'req'"); return; }
      std::string s;
      std::string_view v = cur().text;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        s += v[i];
      }
      out.push_back(s);
      advance();
    }
  }

  // ---- items ----
  void machine() {
    ast::Machine m;
    m.loc = loc();
    advance();  // 'machine'
    ok_ = true;
    if (!ident(m.name, "a machine name")) { recover(); }
    reqs(m.reqs);
    if (!expect_punct("{")) { recover(); f_.machines.push_back(std::move(m)); return; }
    while (!at_end() && !is_punct("}")) {
      ok_ = true;
      item(m);
      if (!ok_) recover();
    }
    ok_ = true;
    expect_punct("}");
    f_.machines.push_back(std::move(m));
  }

  // ---- systems (the words below are keywords only inside a system) ----
  void system() {
    ast::System s;
    s.loc = loc();
    advance();  // 'system'
    ok_ = true;
    if (!ident(s.name, "a system name")) { recover(); }
    reqs(s.reqs);
    if (!expect_punct("{")) { recover(); f_.systems.push_back(std::move(s)); return; }
    sys_ = true;
    while (!at_end() && !is_punct("}")) {
      ok_ = true;
      system_item(s);
      if (!ok_) recover();
    }
    sys_ = false;
    ok_ = true;
    expect_punct("}");
    f_.systems.push_back(std::move(s));
  }

  bool endpoint(ast::Endpoint& e) {
    e.loc = loc();
    if (!ident(e.inst, "an instance name") || !expect_punct(".")) return false;
    e.name_loc = loc();
    if (!ident(e.name, "an output or event name")) return false;
    if (!accept_punct("(")) return true;
    e.has_args = true;
    if (accept_punct(")")) return true;
    do {
      std::string a;
      e.arg_locs.push_back(loc());
      if (!ident(a, "a field name")) return false;
      e.args.push_back(a);
    } while (accept_punct(","));
    return expect_punct(")");
  }

  void system_item(ast::System& s) {
    ir::SrcLoc l = loc();
    if (accept_word("instance")) {
      ast::Instance i; i.loc = l;
      if (!ident(i.name, "an instance name") || !expect_punct(":")) return;
      i.machine_loc = loc();
      if (!ident(i.machine, "a machine name") || !expect_punct(";")) return;
      s.instances.push_back(i);
    } else if (accept_word("link")) {
      ast::Link k; k.loc = l;
      if (!endpoint(k.from) || !expect_punct("->") || !endpoint(k.to) || !expect_word("capacity")) return;
      k.cap_loc = loc();
      if (cur().kind != Tok::Int) { error_expected("a capacity"); return; }
      k.capacity = cur().value;
      advance();
      k.drop = accept_word("drop");
      if (!expect_punct(";")) return;
      s.links.push_back(k);
    } else if (accept_word("closed")) {
      do {
        ast::Closed c; c.loc = loc();
        if (!ident(c.inst, "an instance name")) return;
        if (accept_punct(".") && !ident(c.event, "an event name")) return;
        s.closed.push_back(c);
      } while (accept_punct(","));
      expect_punct(";");
    } else if (accept_word("invariant")) {
      property(s.invariants, l);
    } else if (accept_word("reachable")) {
      property(s.reachables, l);
    } else {
      error_expected("a system declaration (instance, link, closed, invariant or reachable)");
    }
  }

  void item(ast::Machine& m) {
    ir::SrcLoc l = loc();
    if (accept_word("const")) {
      ast::Const c; c.loc = l;
      if (ident(c.name, "a constant name") && expect_punct("=")) { c.value = expr(); expect_punct(";"); }
      if (ok_) m.consts.push_back(c);
    } else if (accept_word("enum")) {
      ast::Enum e; e.loc = l;
      if (!ident(e.name, "an enum name") || !expect_punct("{")) return;
      do {
        if (is_punct("}")) break;
        std::string mem;
        e.member_locs.push_back(loc());
        if (!ident(mem, "an enum member")) return;
        e.members.push_back(mem);
      } while (accept_punct(","));
      if (!expect_punct("}")) return;
      m.enums.push_back(e);
    } else if (accept_word("var")) {
      ast::Var v; v.loc = l;
      if (!ident(v.name, "a variable name") || !expect_punct(":")) return;
      v.type = type();
      if (accept_punct("[")) { v.array_len = expr(); expect_punct("]"); }
      if (accept_punct("=")) v.init = expr();
      expect_punct(";");
      if (ok_) m.vars.push_back(v);
    } else if (accept_word("event")) {
      ast::Event e; e.loc = l;
      if (!ident(e.name, "an event name")) return;
      if (is_punct("(")) fields(e.fields);
      reqs(e.reqs);
      expect_punct(";");
      if (ok_) m.events.push_back(e);
    } else if (accept_word("output")) {
      ast::Output o; o.loc = l;
      if (!ident(o.name, "an output name")) return;
      if (is_punct("(")) fields(o.fields);
      expect_punct(";");
      if (ok_) m.outputs.push_back(o);
    } else if (is_word("initial") || is_word("state")) {
      state(m);
    } else if (accept_word("invariant")) {
      property(m.invariants, l);
    } else if (accept_word("reachable")) {
      property(m.reachables, l);
    } else if (accept_word("req")) {
      error_expected("a declaration (machine-level 'req' tags go before '{')");
    } else {
      error_expected("a declaration (const, enum, var, event, output, state, invariant or reachable)");
    }
  }

  void property(std::vector<ast::Property>& out, ir::SrcLoc l) {
    ast::Property p; p.loc = l;
    if (!ident(p.name, "a property name") || !expect_punct(":")) return;
    p.expr = expr();
    reqs(p.reqs);
    expect_punct(";");
    if (ok_) out.push_back(p);
  }

  ast::TypeRef type() {
    ast::TypeRef t;
    t.loc = loc();
    if (cur().kind == Tok::Ident && !reserved(cur().text)) {
      t.name = std::string(cur().text);
      advance();
      return t;
    }
    if (accept_word("bool")) { t.name = "bool"; return t; }
    // In a range type `lo..hi[N]` the `[N]` is the array length, not an index into `hi`.
    no_index_ = true;
    t.lo = additive();
    if (expect_punct("..")) t.hi = additive();
    no_index_ = false;
    return t;
  }

  void fields(std::vector<ast::Field>& out) {
    expect_punct("(");
    if (accept_punct(")")) return;
    do {
      ast::Field f; f.loc = loc();
      if (!ident(f.name, "a field name") || !expect_punct(":")) return;
      f.type = type();
      out.push_back(f);
    } while (accept_punct(","));
    expect_punct(")");
  }

  void state(ast::Machine& m) {
    ast::State s;
    s.loc = loc();
    s.initial = accept_word("initial");
    if (!expect_word("state") || !ident(s.name, "a state name")) return;
    reqs(s.reqs);
    if (!expect_punct("{")) return;
    while (!at_end() && !is_punct("}")) {
      bool before = ok_;
      on(s);
      if (!ok_) { recover(); ok_ = before; ok_ = true; }
    }
    expect_punct("}");
    m.states.push_back(std::move(s));
    ok_ = true;
  }

  void on(ast::State& s) {
    ast::On o;
    o.loc = loc();
    if (!expect_word("on")) return;
    if (!accept_word("others") && !ident(o.event, "an event name or 'others'")) return;
    if (accept_word("ignore")) { o.kind = ir::HandlerKind::Ignore; expect_punct(";"); }
    else if (accept_word("defer")) { o.kind = ir::HandlerKind::Defer; expect_punct(";"); }
    else if (accept_word("reject")) {
      o.kind = ir::HandlerKind::Reject;
      if (expect_punct("(")) { o.code = expr(); expect_punct(")"); }
      expect_punct(";");
    } else if (accept_word("handle")) {
      o.kind = ir::HandlerKind::Handle;
      if (!expect_punct("{")) return;
      while (ok_ && !at_end() && !is_punct("}")) o.transitions.push_back(transition());
      if (ok_ && o.transitions.empty()) error_expected("at least one transition ('when', 'always' or 'else')");
      expect_punct("}");
    } else {
      error_expected("'handle', 'ignore', 'defer' or 'reject'");
    }
    if (ok_) s.ons.push_back(std::move(o));
  }

  ast::Transition transition() {
    ast::Transition t;
    t.loc = loc();
    if (accept_word("when")) { t.kind = ast::GuardKind::When; t.guard = expr(); }
    else if (accept_word("always")) t.kind = ast::GuardKind::Always;
    else if (accept_word("else")) t.kind = ast::GuardKind::Else;
    else { error_expected("'when', 'always' or 'else'"); return t; }
    if (accept_punct("->")) { t.target_loc = loc(); ident(t.target, "a target state"); }
    reqs(t.reqs);
    if (accept_punct(";")) return t;
    block(t.body);
    return t;
  }

  void block(std::vector<int>& out) {
    if (!expect_punct("{")) return;
    while (ok_ && !at_end() && !is_punct("}")) out.push_back(stmt());
    expect_punct("}");
  }

  int stmt() {
    ast::Stmt s;
    s.loc = loc();
    if (accept_word("emit")) {
      s.kind = ast::StmtKind::Emit;
      if (ident(s.name, "an output name") && expect_punct("(")) {
        if (!accept_punct(")")) {
          do { s.args.push_back(expr()); } while (ok_ && accept_punct(","));
          expect_punct(")");
        }
        expect_punct(";");
      }
    } else if (accept_word("if")) {
      s.kind = ast::StmtKind::If;
      s.value = expr();
      block(s.then_body);
      if (accept_word("else")) {
        s.has_else = true;
        if (is_word("if")) s.else_body.push_back(stmt());
        else block(s.else_body);
      }
    } else if (accept_word("for")) {
      s.kind = ast::StmtKind::For;
      if (ident(s.name, "a loop variable") && expect_word("in")) {
        s.lo = additive();
        if (expect_punct("..")) s.hi = additive();
        block(s.then_body);
      }
    } else {
      s.kind = ast::StmtKind::Assign;
      if (ident(s.name, "a statement (assignment, 'emit', 'if' or 'for')")) {
        if (accept_punct("[")) { s.index = expr(); expect_punct("]"); }
        if (expect_punct(":=")) { s.value = expr(); expect_punct(";"); }
      }
    }
    f_.stmts.push_back(std::move(s));
    return static_cast<int>(f_.stmts.size() - 1);
  }

  // ---- expressions ----
  int make(ast::ExprKind k, ir::SrcLoc l, std::string name = {}, int a = -1, int b = -1, int c = -1) {
    ast::Expr e;
    e.kind = k; e.loc = l; e.name = std::move(name); e.a = a; e.b = b; e.c = c;
    f_.exprs.push_back(std::move(e));
    return static_cast<int>(f_.exprs.size() - 1);
  }

  int expr() { return ternary(); }

  int ternary() {
    int c = implies();
    if (is_punct("?")) {
      ir::SrcLoc l = loc();
      advance();
      int a = ternary();
      expect_punct(":");
      int b = ternary();
      return make(ast::ExprKind::Ternary, l, "?", c, a, b);
    }
    return c;
  }
  int implies() {
    int a = binary(0);
    if (is_punct("=>")) {
      ir::SrcLoc l = loc();
      advance();
      int b = implies();  // right-associative
      return make(ast::ExprKind::Binary, l, "=>", a, b);
    }
    return a;
  }
  // Precedence levels, loosest first; level 3 (comparisons) is non-associative.
  static int level_of(std::string_view op) {
    static const char* const levels[][6] = {
        {"||"}, {"&&"}, {}, {"==", "!=", "<", "<=", ">", ">="}, {"|"}, {"^"}, {"&"}, {"<<", ">>"},
        {"+", "-"}, {"*", "/", "%"}};
    for (int i = 0; i < 10; ++i)
      for (const char* o : levels[i]) if (o && op == o) return i;
    return -1;
  }
  int binary(int min_level) {
    if (min_level > 9) return unary();
    if (min_level == 2) return binary(3);
    int lhs = binary(min_level + 1);
    while (ok_ && cur().kind == Tok::Punct && level_of(cur().text) == min_level) {
      std::string op(cur().text);
      ir::SrcLoc l = loc();
      advance();
      int rhs = binary(min_level + 1);
      lhs = make(ast::ExprKind::Binary, l, op, lhs, rhs);
      if (min_level == 3 && cur().kind == Tok::Punct && level_of(cur().text) == 3) {
        rep_.error(f_.path, loc(), "comparison operators do not chain: add parentheses");
        ok_ = false;
      }
    }
    return lhs;
  }
  int additive() { return binary(8); }
  int unary() {
    ir::SrcLoc l = loc();
    if (is_punct("!") || is_punct("~") || is_punct("-")) {
      std::string op(cur().text);
      advance();
      return make(ast::ExprKind::Unary, l, op, unary());
    }
    return postfix();
  }
  int postfix() {
    int e = primary();
    while (ok_ && !no_index_ && is_punct("[")) {
      ir::SrcLoc l = loc();
      advance();
      int i = expr();
      expect_punct("]");
      e = make(ast::ExprKind::Index, l, "[]", e, i);
    }
    return e;
  }
  int primary() {
    ir::SrcLoc l = loc();
    if (!ok_) return make(ast::ExprKind::Int, l);
    if (cur().kind == Tok::Int) {
      int e = make(ast::ExprKind::Int, l);
      f_.exprs[e].value = cur().value;
      advance();
      return e;
    }
    if (accept_word("true") || accept_word("false")) {
      int e = make(ast::ExprKind::Bool, l);
      f_.exprs[e].value = t_[pos_ - 1].text == "true" ? 1 : 0;
      return e;
    }
    if (accept_word("state")) return make(ast::ExprKind::State, l, "state");
    if (accept_punct("(")) {
      int e = expr();
      expect_punct(")");
      return e;
    }
    for (const char* q : {"count", "forall", "exists", "highest", "lowest"}) {
      if (!accept_word(q)) continue;
      int e = make(ast::ExprKind::Quant, l, q);
      std::string var;
      if (!expect_punct("(") || !ident(var, "a bound variable name") || !expect_word("in")) return e;
      int lo = additive();
      if (!expect_punct("..")) return e;
      int hi = additive();
      if (!expect_punct(":")) return e;
      int body = expr();
      int dflt = -1;
      bool pick = q[0] == 'h' || q[0] == 'l';
      if (pick && expect_punct(",")) dflt = expr();
      expect_punct(")");
      ast::Expr& x = f_.exprs[e];
      x.member = var; x.a = lo; x.b = hi; x.c = body; x.d = dflt;
      return e;
    }
    std::string name;
    if (cur().kind == Tok::Ident && !reserved(cur().text)) {
      name = std::string(cur().text);
      advance();
      if (sys_ && (name == "queued" || name == "empty") && accept_punct("(")) {
        int e = make(ast::ExprKind::Name, l, name);
        std::string inst, out;
        if (ident(inst, "an instance name") && expect_punct(".") && ident(out, "an output name")) expect_punct(")");
        f_.exprs[e].member = inst + "." + out;
        return e;
      }
      if (sys_ && accept_word("in")) return in_states(l, name);
      if (accept_punct(".")) {
        std::string mem;
        if (sys_ && accept_word("state")) mem = "state";
        else ident(mem, "an enum member after '.'");
        int e = make(ast::ExprKind::Member, l, name);
        f_.exprs[e].member = mem;
        return e;
      }
      return make(ast::ExprKind::Name, l, name);
    }
    error_expected("an expression");
    return make(ast::ExprKind::Int, l);
  }

  // `inst in S` / `inst in {S, T}` (systems): inst.state == S || inst.state == T.
  int in_states(ir::SrcLoc l, const std::string& inst) {
    bool set = accept_punct("{");
    int r = -1;
    do {
      ir::SrcLoc sl = loc();
      std::string st;
      if (!ident(st, "a state name")) return make(ast::ExprKind::Int, l);
      int lhs = make(ast::ExprKind::Member, l, inst);
      f_.exprs[lhs].member = "state";
      int eq = make(ast::ExprKind::Binary, sl, "==", lhs, make(ast::ExprKind::Name, sl, st));
      r = r < 0 ? eq : make(ast::ExprKind::Binary, sl, "||", r, eq);
    } while (set && accept_punct(","));
    if (set) expect_punct("}");
    return r;
  }

  const std::vector<Token>& t_;
  const LineMap& lines_;
  Reporter& rep_;
  ast::File& f_;
  size_t pos_ = 0;
  bool ok_ = true;
  bool no_index_ = false;  // parsing the bounds of a range type
  bool sys_ = false;       // inside a system: queued(i.o), empty(i.o), i.state
};

}  // namespace

void parse(const std::vector<Token>& toks, const LineMap& lines, Reporter& rep, ast::File& out) {
  Parser p(toks, lines, rep, out);
  p.file();
}

}  // namespace fsm::gen
