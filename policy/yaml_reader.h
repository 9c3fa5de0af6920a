#pragma once
// Reading a yaml-cpp tree with every problem located: the pieces the section
// readers (yaml_settings.cpp, yaml_zones.cpp, ...) share. Internal to the
// loader.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/loader.h"
#include "policy/yaml_tree.h"

namespace netpolicy::policy::yaml {

// Where a value sits, as messages name it: "rules[2].ports[0]". Lives on the
// stack while the readers descend; the text is made only for a message.
// A child points at its parent: keep every level in a variable of its own
// while a child is in use (`root.child("a").element(i)` stored in a variable
// dangles once the full expression ends; passed straight to a call it is fine).
class KeyPath {
 public:
  KeyPath() = default;  // the document root
  [[nodiscard]] KeyPath child(std::string_view key) const { return KeyPath{this, key, 0, false}; }
  [[nodiscard]] KeyPath element(std::size_t index) const { return KeyPath{this, {}, index, true}; }
  [[nodiscard]] std::string str() const;

 private:
  KeyPath(const KeyPath* parent, std::string_view key, std::size_t index, bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index) {}
  const KeyPath* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

// The errors found in one file.
class Diagnostics {
 public:
  Diagnostics(std::string file, std::string_view text) : file_(std::move(file)), text_(text) {}

  // The node's own position.
  [[nodiscard]] Pos at(const Node& node) const { return node.at; }
  // A mapping value's position. An empty value (`key:` and nothing) gets
  // the position of whatever follows it, so it points at its key instead.
  [[nodiscard]] Pos at_value(const Node& key, const Node& value) const;
  [[nodiscard]] Location location(Pos pos) const { return Location{file_, pos.line, pos.column}; }

  // "PATH: MESSAGE" at `pos`; just MESSAGE at the root. Ignored once
  // closed.
  void error(Pos pos, const KeyPath& path, std::string_view message);
  // Stops taking errors: reading was cut short, and whatever the readers
  // say while they unwind (a key "missing" because it was never reached)
  // would be false.
  void close() { closed_ = true; }
  [[nodiscard]] bool empty() const { return list_.empty(); }
  // Every error, sorted by line and column (stable: same place, found order).
  [[nodiscard]] std::vector<Diagnostic> take_sorted();

 private:
  std::string file_;
  std::string_view text_;
  std::vector<Diagnostic> list_;
  bool closed_ = false;
};

// Shared state of one load: the errors, the caps, and the work budgets that
// keep hostile input (aliases, thousands of typos) from costing more than
// its size.
class Reader {
 public:
  Reader(Diagnostics& d, const Limits& l) : diags(d), limits(l) {}

  // Counts one visited node against limits.max_nodes. An alias is visited
  // each time it is used, so this bounds the work a small file full of
  // aliases can cause. False (reported once) when the budget is spent.
  [[nodiscard]] bool visit(const Node& node);
  [[nodiscard]] bool exhausted() const { return exhausted_; }

  // "; did you mean 'X'?" or "". Bounded in total work; with a `cache`
  // name (one per candidate list, e.g. "groups"), remembered per word, so a
  // typo repeated in a thousand rules costs one search.
  [[nodiscard]] std::string hint(std::string_view word,
                                 std::span<const std::string_view> candidates,
                                 std::string_view cache = {});

  Diagnostics& diags;
  const Limits& limits;

 private:
  std::size_t visited_ = 0;
  bool exhausted_ = false;
  std::size_t hint_comparisons_ = 0;
  std::map<std::pair<std::string, std::string>, std::string> hints_;
};

// How a node reads in a message: "a mapping", "a list", "nothing", "'text'",
// "the quoted string 'text'".
[[nodiscard]] std::string describe(const Node& node);
// 'text', with control characters escaped and long text cut short.
[[nodiscard]] std::string quote(std::string_view text);
// [A-Za-z][A-Za-z0-9_-]{0,63}: valid as an nft identifier as it is.
[[nodiscard]] bool is_valid_name(std::string_view name);
// A plain (unquoted) scalar: what YAML would read as a number or boolean.
[[nodiscard]] bool is_plain(const Node& node);

// One known key of a mapping, as found (or not) by read_fields.
struct Field {
  bool present = false;
  const Node* key = nullptr;    // set when present
  const Node* value = nullptr;  // set when present
  Pos key_at;                   // where the key is
  Pos value_at;                 // where the value is (its key when empty)
};

// Reads mapping `map` against `known`: reports keys that are not scalars,
// duplicates and unknown keys (with a hint); returns one Field per known
// key, in the order of `known`.
std::vector<Field> read_fields(Reader& r, const Node& map, const KeyPath& path,
                               std::span<const std::string_view> known);
// Reports "missing required key 'KEY'" at `map_at` when the field is absent.
bool require(Reader& r, const Field& field, std::string_view key, Pos map_at, const KeyPath& path);

// Type checks: each reports "expected WHAT, got ..." at `at` and returns
// false (or nullopt) when the node is not what is expected.
bool expect_map(Reader& r, const Node& node, Pos at, const KeyPath& path, std::string_view what);
// Also checks the length against `limit`: "N THINGS exceed the limit of M".
bool expect_list(Reader& r, const Node& node, Pos at, const KeyPath& path, std::string_view what,
                 std::size_t limit, std::string_view things);
std::optional<std::string> read_string(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                       std::string_view what);
// A string that is_valid_name; `kind` names it in messages ("zone name").
std::optional<std::string> read_name(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                     std::string_view kind);
std::optional<bool> read_bool(Reader& r, const Node& node, Pos at, const KeyPath& path);
// A plain decimal integer in [min, max]; `what` names it ("reqid").
std::optional<std::uint64_t> read_integer(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                          std::uint64_t min, std::uint64_t max,
                                          std::string_view what);

template <typename E>
struct Choice {
  std::string_view word;
  E value;
};

// "expected one of A, B or C, got 'x'" with a hint for near misses.
std::string choice_error(Reader& r, const Node& node, std::span<const std::string_view> words);

template <typename E, std::size_t N>
std::optional<E> read_choice(Reader& r, const Node& node, Pos at, const KeyPath& path,
                             const Choice<E> (&choices)[N]) {
  if (node.is_scalar()) {
    for (const auto& c : choices)
      if (node.text == c.word) return c.value;
  }
  std::string_view words[N];
  for (std::size_t i = 0; i < N; ++i) words[i] = choices[i].word;
  r.diags.error(at, path, choice_error(r, node, words));
  return std::nullopt;
}

}  // namespace netpolicy::policy::yaml
