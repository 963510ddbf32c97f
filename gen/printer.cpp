// Implementation of the emitters' structured printer (see printer.h).
#include "printer.h"

namespace fsm::gen {

void Printer::put(char c) {
  if (c == '\n') {
    out_ += '\n';
    at_line_start_ = true;
    return;
  }
  if (at_line_start_) {
    out_.append(static_cast<size_t>(depth_) * 2, ' ');
    at_line_start_ = false;
  }
  out_ += c;
}

void Printer::print(const std::string& text, const Vars& vars) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      put(text[i]);
      continue;
    }
    size_t end = text.find('$', i + 1);
    if (end == std::string::npos) {  // a lone `$` prints as itself
      put('$');
      continue;
    }
    std::string name = text.substr(i + 1, end - i - 1);
    i = end;
    if (name.empty()) {
      put('$');
      continue;
    }
    bool found = false;
    for (const auto& kv : vars) {
      if (kv.first == name) {
        for (char c : kv.second) put(c);
        found = true;
        break;
      }
    }
    if (!found) {  // unknown variable: keep it visible so a golden test catches it
      put('$');
      for (char c : name) put(c);
      put('$');
    }
  }
}

}  // namespace fsm::gen
