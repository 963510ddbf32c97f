// options_kv: the `key=value,flag` list grammar of swtpm's options, parsed strictly (options_kv.h).
#include "instance/options_kv.h"

#include <climits>

namespace vtpm::instance::kv {

namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

bool parse_decimal(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (d > max || v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool parse_mode(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 12) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return false;
    v = v * 8 + static_cast<uint32_t>(c - '0');
    if (v > 0777) return false;
  }
  out = v;
  return true;
}

bool Values::parse(const char* option, std::string_view text, std::span<const KeySpec> keys,
                   std::string& error) {
  option_ = option;
  items_.clear();
  const std::string prefix = std::string(option) + ": ";
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;

    size_t eq = item.find('=');
    bool has_value = eq != std::string_view::npos;
    std::string_view key = item.substr(0, has_value ? eq : item.size());
    std::string_view value = has_value ? item.substr(eq + 1) : std::string_view();

    const KeySpec* spec = nullptr;
    for (const KeySpec& k : keys)
      if (key == k.name) spec = &k;
    if (spec == nullptr) {
      error = prefix + "unknown parameter " + quoted(key.empty() ? item : key);
      return false;
    }
    if (spec->kind == KeyKind::Unsupported) {
      error = prefix + "parameter " + quoted(key) + " is not supported";
      return false;
    }
    if (find(key) != nullptr) {
      error = prefix + "parameter " + quoted(key) + " given twice";
      return false;
    }
    std::string stored;
    if (spec->kind == KeyKind::Bool) {
      if (!has_value || equals_ignore_case(value, "true") || value == "1") {
        stored = "true";
      } else if (equals_ignore_case(value, "false") || value == "0") {
        stored = "false";
      } else {
        error = prefix + quoted(item) + ": expected " + std::string(key) + "=true or " +
                std::string(key) + "=false";
        return false;
      }
    } else {
      if (value.empty()) {
        error = prefix + "parameter " + quoted(key) + " needs a value (" + std::string(key) +
                "=…)";
        return false;
      }
      stored = std::string(value);
    }
    items_.push_back(Item{std::string(key), std::move(stored)});
  }
  return true;
}

const std::string* Values::find(std::string_view key) const {
  for (const Item& it : items_)
    if (it.key == key) return &it.value;
  return nullptr;
}

bool Values::flag(std::string_view key) const {
  const std::string* v = find(key);
  return v != nullptr && *v == "true";
}

bool Values::only(std::initializer_list<std::string_view> allowed, std::string_view context,
                  std::string& error) const {
  for (const Item& it : items_) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || it.key == a;
    if (!ok) {
      error = std::string(option_) + ": " + quoted(it.key) + " is not valid with " +
              std::string(context);
      return false;
    }
  }
  return true;
}

bool Values::at_most_one(std::initializer_list<std::string_view> keys, std::string& error) const {
  int present = 0;
  for (std::string_view k : keys) present += has(k) ? 1 : 0;
  if (present <= 1) return true;
  error = std::string(option_) + ": give only one of ";
  bool first = true;
  for (std::string_view k : keys) {
    error += (first ? "" : ", ") + std::string(k) + "=";
    first = false;
  }
  return false;
}

bool Values::number(std::string_view key, uint64_t min, uint64_t max, uint64_t& out,
                    std::string& error) const {
  const std::string* v = find(key);
  const std::string prefix = std::string(option_) + ": " + std::string(key);
  uint64_t n = 0;
  if (v == nullptr || !parse_decimal(*v, UINT64_MAX, n)) {
    error = prefix + " " + quoted(v ? *v : "") + " is not a decimal number";
    return false;
  }
  if (n < min || n > max) {
    error = prefix + " " + *v + " out of range (" + std::to_string(min) + "-" +
            std::to_string(max) + ")";
    return false;
  }
  out = n;
  return true;
}

bool Values::fd(std::string_view key, int& out, std::string& error) const {
  uint64_t n = 0;
  if (!number(key, 0, INT_MAX, n, error)) return false;
  out = static_cast<int>(n);
  return true;
}

bool Values::mode(std::string_view key, uint32_t& out, std::string& error) const {
  const std::string* v = find(key);
  if (v == nullptr || !parse_mode(*v, out)) {
    error = std::string(option_) + ": " + std::string(key) + " " + quoted(v ? *v : "") +
            " is not an octal file mode (0000-0777)";
    return false;
  }
  return true;
}

}  // namespace vtpm::instance::kv
