// Mutation cases (see mutate.h): a header of `key: value` lines, then hunks in the style of a
// unified diff without line numbers. Hunks are matched by content against today's spec — each
// exactly once, none overlapping — so a case can never silently test a stale spec.
#include "mutate.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string_view>

namespace fsm::gen {
namespace {

constexpr size_t kMaxLine = 4096;     // a longer line in a case file is an error
constexpr size_t kMaxHunks = 64;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// An invariant or goal name, or `State.event` (the dead-transition obligations of one handler).
bool is_word(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; });
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return std::string(s.substr(a, b - a));
}

std::string quote(const std::string& s) {
  return "'" + (s.size() > 60 ? s.substr(0, 57) + "..." : s) + "'";
}

}  // namespace

bool parse_mutation(const std::string& file, const std::string& text, Reporter& rep, MutationCase& out) {
  const size_t before = rep.errors();
  auto err = [&](uint32_t line, uint32_t col, const std::string& msg) { rep.error(file, ir::SrcLoc{line, col}, msg); };
  std::vector<std::string> lines = split_lines(text);
  MutationHunk* hunk = nullptr;
  uint32_t expect_line = 0;
  for (uint32_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const uint32_t ln = i + 1;
    if (l.size() > kMaxLine) {
      err(ln, 1, "line longer than " + std::to_string(kMaxLine) + " characters");
      continue;
    }
    if (l.find('\r') != std::string::npos) {
      err(ln, static_cast<uint32_t>(l.find('\r') + 1), "carriage return in a case file");
      continue;
    }
    if (l.rfind("@@", 0) == 0) {
      if (out.hunks.size() == kMaxHunks) {
        err(ln, 1, "more than " + std::to_string(kMaxHunks) + " hunks");
        continue;
      }
      out.hunks.push_back(MutationHunk{ln, {}, {}});
      hunk = &out.hunks.back();
      continue;
    }
    if (hunk == nullptr) {  // header
      if (l.empty() || l[0] == '#') continue;
      size_t colon = l.find(':');
      std::string key = colon == std::string::npos ? l : l.substr(0, colon);
      if (colon == std::string::npos || !(key == "spec" || key == "expect-fail" || key == "also-fails" || key == "broken")) {
        err(ln, 1, "expected 'spec:', 'expect-fail:', 'also-fails:', 'broken:', a '#' comment or '@@', found " + quote(l));
        continue;
      }
      std::string value = trim(std::string_view(l).substr(colon + 1));
      const uint32_t col = static_cast<uint32_t>(colon + 2);
      if (key == "spec") {
        if (!out.spec.empty()) err(ln, 1, "a second 'spec:' line");
        else if (value.empty() || value[0] == '/') err(ln, col, "'spec:' needs a path relative to the repository root");
        else if (value == ".." || value.rfind("../", 0) == 0 || value.find("/../") != std::string::npos ||
                 (value.size() >= 3 && value.compare(value.size() - 3, 3, "/..") == 0))
          err(ln, static_cast<uint32_t>(l.find(value, colon) + 1), "'spec:' must stay inside the repository (no '..')");
        else { out.spec = value; out.spec_line = ln; out.spec_col = static_cast<uint32_t>(l.find(value, colon) + 1); }
      } else if (key == "expect-fail") {
        // A name, or a reachability obligation's text such as `reachable transition #3 S.e`.
        if (!out.expect_fail.empty()) err(ln, 1, "a second 'expect-fail:' line");
        else if (value.empty()) err(ln, col, "'expect-fail:' needs the name of an obligation");
        else { out.expect_fail = value; expect_line = ln; }
      } else if (key == "also-fails") {
        size_t p = 0;
        while (p < value.size()) {
          size_t q = value.find(' ', p);
          if (q == std::string::npos) q = value.size();
          std::string name = value.substr(p, q - p);
          if (!name.empty() && !is_word(name)) err(ln, col + static_cast<uint32_t>(p), "not an obligation name: " + quote(name));
          else if (!name.empty()) out.also_fails.push_back(name);
          p = q + 1;
        }
      } else {
        if (value.empty()) err(ln, col, "'broken:' needs a description");
        else out.broken.push_back(value);
      }
      continue;
    }
    // Inside a hunk: ' ' context, '-' removed, '+' added; an empty line is blank context.
    char tag = l.empty() ? ' ' : l[0];
    std::string body = l.empty() ? std::string() : l.substr(1);
    if (tag == ' ') { hunk->find.push_back(body); hunk->repl.push_back(body); }
    else if (tag == '-') hunk->find.push_back(body);
    else if (tag == '+') hunk->repl.push_back(body);
    else err(ln, 1, "a hunk line starts with ' ', '-' or '+', found " + quote(l));
  }
  // Trailing empty lines of a hunk only separate it from the next one.
  for (MutationHunk& h : out.hunks) {
    while (!h.find.empty() && !h.repl.empty() && h.find.back().empty() && h.repl.back().empty()) {
      h.find.pop_back();
      h.repl.pop_back();
    }
  }
  const uint32_t end = static_cast<uint32_t>(lines.size() + 1);
  if (out.spec.empty()) err(1, 1, "no 'spec:' line naming the spec to mutate");
  if (out.expect_fail.empty()) err(1, 1, "no 'expect-fail:' line naming the obligation that must fail");
  if (out.hunks.empty()) err(end, 1, "no hunk ('@@'): the case changes nothing");
  for (const MutationHunk& h : out.hunks) {
    if (h.find.empty()) err(h.line, 1, "the hunk has no context or '-' line to find in the spec");
    else if (h.find == h.repl) err(h.line, 1, "the hunk changes nothing");
  }
  for (const std::string& a : out.also_fails) {
    if (a == out.expect_fail) err(expect_line, 1, "'" + a + "' is both expect-fail and also-fails");
  }
  return rep.errors() == before;
}

bool apply_mutation(const std::string& file, const MutationCase& mc, const std::string& spec_text,
                    Reporter& rep, std::string& mutant) {
  const size_t before = rep.errors();
  std::vector<std::string> spec = split_lines(spec_text);
  struct Match {
    size_t at;
    const MutationHunk* hunk;
  };
  std::vector<Match> matches;
  for (const MutationHunk& h : mc.hunks) {
    std::vector<size_t> at;
    for (size_t i = 0; i + h.find.size() <= spec.size(); ++i) {
      if (std::equal(h.find.begin(), h.find.end(), spec.begin() + static_cast<std::ptrdiff_t>(i))) at.push_back(i);
    }
    const std::string what = "hunk no longer applies: its text (" + std::to_string(h.find.size()) +
                             (h.find.size() == 1 ? " line)" : " lines)");
    if (at.empty()) {
      std::string missing;
      for (size_t k = 0; k < h.find.size() && missing.empty(); ++k) {
        if (std::find(spec.begin(), spec.end(), h.find[k]) == spec.end())
          missing = "; hunk line " + std::to_string(k + 1) + " " + quote(trim(h.find[k])) + " is nowhere in it";
      }
      rep.error(file, ir::SrcLoc{h.line, 1}, what + " does not occur in " + mc.spec + missing);
      continue;
    }
    if (at.size() > 1) {
      std::string where;
      for (size_t k = 0; k < at.size() && k < 6; ++k) where += (k ? ", " : "") + std::to_string(at[k] + 1);
      rep.error(file, ir::SrcLoc{h.line, 1},
                what + " occurs " + std::to_string(at.size()) + " times in " + mc.spec + " (at lines " + where +
                    "); add context lines so that it matches once");
      continue;
    }
    matches.push_back(Match{at[0], &h});
  }
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) { return a.at < b.at; });
  for (size_t k = 1; k < matches.size(); ++k) {
    if (matches[k].at < matches[k - 1].at + matches[k - 1].hunk->find.size()) {
      rep.error(file, ir::SrcLoc{matches[k].hunk->line, 1},
                "hunk overlaps the hunk at line " + std::to_string(matches[k - 1].hunk->line) + " of this file");
    }
  }
  if (rep.errors() != before) return false;

  std::string out = "// expect-fail: " + mc.expect_fail + "\n";
  if (!mc.also_fails.empty()) {
    out += "// also-fails:";
    for (const std::string& a : mc.also_fails) out += " " + a;
    out += "\n";
  }
  for (const std::string& b : mc.broken) out += "// broken: " + b + "\n";
  out += "// spec: " + mc.spec + "\n// case: " + file + "\n";
  out += "// Generated by `fsmc mutate` from the case and the spec above — DO NOT EDIT.\n";
  size_t next = 0;
  for (const Match& m : matches) {
    for (; next < m.at; ++next) out += spec[next] + "\n";
    for (const std::string& r : m.hunk->repl) out += r + "\n";
    next = m.at + m.hunk->find.size();
  }
  for (; next < spec.size(); ++next) out += spec[next] + "\n";
  mutant = out;
  return true;
}

}  // namespace fsm::gen
