// options_kv: the value grammar of swtpm 0.7.1's options (`--ctrl type=unixio,path=P,mode=0600`):
// a comma-separated list of `key=value` items and bare booleans (`disconnect`, `remove=false`),
// checked against the option's key table, and the strict number parsers every option uses.
// Errors name the option and the offending text: "--server: port 70000 out of range (1-65535)".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vtpm::instance::kv {

// Text: `key=value` with a non-empty value. Bool: bare `key` (= true) or `key=true|false|1|0`.
// Unsupported: a key swtpm has (often a later release) that vtpmd refuses by name.
enum class KeyKind : uint8_t { Text, Bool, Unsupported };

struct KeySpec {
  const char* name;
  KeyKind kind;
};

// Digits only (no sign, blank or base prefix), value <= max. False on anything else.
bool parse_decimal(std::string_view s, uint64_t max, uint64_t& out);
// Octal digits only, value <= 0777 (swtpm: "mode=0600", also "mode=600").
bool parse_mode(std::string_view s, uint32_t& out);

// The parsed list of one option. Bool values are stored as "true"/"false".
class Values {
 public:
  // `option` is the name used in messages ("--ctrl"); it must outlive this object. Empty items
  // (",," or a trailing comma) are skipped, as swtpm's strtok splitting does. Each key may appear
  // once: swtpm silently takes the first of two, which hides mistakes.
  bool parse(const char* option, std::string_view text, std::span<const KeySpec> keys,
             std::string& error);

  const char* option() const { return option_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // The value of a Text key, or nullptr when absent.
  const std::string* get(std::string_view key) const { return find(key); }
  // A Bool key given and true.
  bool flag(std::string_view key) const;

  // Fails unless every key present is in `allowed`: "<option>: 'path' is not valid with <context>".
  bool only(std::initializer_list<std::string_view> allowed, std::string_view context,
            std::string& error) const;
  // Fails when more than one of `keys` is present: "<option>: give only one of path=, fd=".
  bool at_most_one(std::initializer_list<std::string_view> keys, std::string& error) const;

  // Typed reads of a present key; each fails with a message naming the option, key and value.
  bool number(std::string_view key, uint64_t min, uint64_t max, uint64_t& out,
              std::string& error) const;
  bool fd(std::string_view key, int& out, std::string& error) const;
  bool mode(std::string_view key, uint32_t& out, std::string& error) const;

 private:
  struct Item {
    std::string key;
    std::string value;
  };
  const std::string* find(std::string_view key) const;

  const char* option_ = "";
  std::vector<Item> items_;
};

}  // namespace vtpm::instance::kv
