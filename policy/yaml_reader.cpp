#include "policy/yaml_reader.h"

#include <algorithm>
#include <charconv>

#include "policy/spelling_hint.h"

namespace netpolicy::policy::yaml {

namespace {
// Candidate comparisons all hints of one load may cost (about 0.1 s):
// enough for a thousand hints against a thousand names, bounded against a
// policy made of nothing but typos and a hundred thousand groups.
constexpr std::size_t kHintBudget = 1'000'000;
constexpr std::size_t kMaxQuoted = 80;

std::string join_words(std::span<const std::string_view> words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}
}  // namespace

std::string KeyPath::str() const {
  if (parent_ == nullptr) return {};
  std::string out = parent_->str();
  if (is_index_) {
    out += '[' + std::to_string(index_) + ']';
  } else {
    if (!out.empty()) out += '.';
    out += key_;
  }
  return out;
}

Pos Diagnostics::at_value(const Node& key, const Node& value) const {
  if (!value.is_null()) return at(value);
  // An explicit null (~, null) has a position of its own; an empty value
  // is marked where the next token starts, often on the next line.
  if (value.offset >= 0 && static_cast<std::size_t>(value.offset) < text_.size()) {
    const std::string_view rest = text_.substr(static_cast<std::size_t>(value.offset));
    for (std::string_view literal : {"~", "null", "Null", "NULL"}) {
      if (!rest.starts_with(literal)) continue;
      // The literal itself, not a next key that happens to start with it.
      const bool ends =
          rest.size() == literal.size() ||
          std::string_view{" \t\r\n,]}#"}.find(rest[literal.size()]) != std::string_view::npos;
      if (ends) return at(value);
    }
  }
  return at(key);
}

void Diagnostics::error(Pos pos, const KeyPath& path, std::string_view message) {
  if (closed_) return;
  std::string text = path.str();
  if (!text.empty()) text += ": ";
  text += message;
  list_.push_back(Diagnostic{location(pos), std::move(text)});
}

std::vector<Diagnostic> Diagnostics::take_sorted() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
  return std::move(list_);
}

bool Reader::visit(const Node& node) {
  if (exhausted_) return false;
  if (++visited_ <= limits.max_nodes) return true;
  exhausted_ = true;
  diags.error(diags.at(node), KeyPath{},
              "the policy has more than " + std::to_string(limits.max_nodes) +
                  " entries (counting each use of an alias); stopped reading here");
  diags.close();
  return false;
}

std::string Reader::hint(std::string_view word, std::span<const std::string_view> candidates,
                         std::string_view cache) {
  std::pair<std::string, std::string> key;
  if (!cache.empty()) {
    key = {std::string{cache}, std::string{word}};
    if (auto it = hints_.find(key); it != hints_.end()) return it->second;
  }
  if (hint_comparisons_ + candidates.size() > kHintBudget) return {};
  hint_comparisons_ += candidates.size();
  std::string text;
  if (auto best = closest_match(word, candidates)) text = "; did you mean " + quote(*best) + "?";
  if (!cache.empty()) hints_.emplace(std::move(key), text);
  return text;
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxQuoted) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

bool is_plain(const Node& node) {
  return node.is_scalar() && node.style == Style::plain;
}

std::string describe(const Node& node) {
  switch (node.kind) {
    case Kind::map:
      return "a mapping";
    case Kind::list:
      return "a list";
    case Kind::scalar:
      switch (node.style) {
        case Style::plain:
          return quote(node.text);
        case Style::quoted:
          return "the quoted string " + quote(node.text);
        case Style::tagged:
          return quote(node.text) + " tagged " + quote(node.tag);
      }
      break;
    case Kind::null:
      break;
  }
  return "nothing";
}

bool is_valid_name(std::string_view name) {
  auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.empty() || name.size() > 64 || !letter(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return letter(c) || digit(c) || c == '_' || c == '-'; });
}

std::vector<Field> read_fields(Reader& r, const Node& map, const KeyPath& path,
                               std::span<const std::string_view> known) {
  std::vector<Field> fields(known.size());
  for (std::size_t entry = 0; entry < map.size(); ++entry) {
    const Node& key = map.key(entry);
    const Node& value = map.value(entry);
    if (!r.visit(key)) break;
    const Pos key_at = r.diags.at(key);
    if (!key.is_scalar()) {
      r.diags.error(key_at, path, "expected a key name, got " + describe(key));
      continue;
    }
    const std::string& name = key.text;
    auto found = std::find(known.begin(), known.end(), name);
    if (found == known.end()) {
      r.diags.error(key_at, path, "unknown key " + quote(name) + r.hint(name, known));
      continue;
    }
    Field& field = fields[static_cast<std::size_t>(found - known.begin())];
    if (field.present) {
      r.diags.error(key_at, path,
                    "duplicate key " + quote(name) + " (first at " + field.key_at.str() + ")");
      continue;
    }
    field = Field{true, &key, &value, key_at, r.diags.at_value(key, value)};
  }
  return fields;
}

bool require(Reader& r, const Field& field, std::string_view key, Pos map_at, const KeyPath& path) {
  if (field.present) return true;
  r.diags.error(map_at, path, "missing required key " + quote(key));
  return false;
}

bool expect_map(Reader& r, const Node& node, Pos at, const KeyPath& path, std::string_view what) {
  if (node.is_map()) return true;
  r.diags.error(at, path, "expected " + std::string{what} + ", got " + describe(node));
  return false;
}

bool expect_list(Reader& r, const Node& node, Pos at, const KeyPath& path, std::string_view what,
                 std::size_t limit, std::string_view things) {
  if (!node.is_list()) {
    r.diags.error(at, path, "expected " + std::string{what} + ", got " + describe(node));
    return false;
  }
  if (node.size() > limit) {
    r.diags.error(at, path,
                  std::to_string(node.size()) + " " + std::string{things} +
                      " exceed the limit of " + std::to_string(limit));
    return false;
  }
  return true;
}

std::optional<std::string> read_string(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                       std::string_view what) {
  if (node.is_scalar()) return node.text;
  r.diags.error(at, path, "expected " + std::string{what} + ", got " + describe(node));
  return std::nullopt;
}

std::optional<std::string> read_name(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                     std::string_view kind) {
  const bool vowel =
      !kind.empty() && std::string_view{"aeiou"}.find(kind[0]) != std::string_view::npos;
  auto text = read_string(r, node, at, path, (vowel ? "an " : "a ") + std::string{kind});
  if (!text) return std::nullopt;
  if (is_valid_name(*text)) return text;
  r.diags.error(at, path,
                quote(*text) + " is not a valid " + std::string{kind} +
                    ": use a letter followed by up to 63 letters, digits, '_' or '-'");
  return std::nullopt;
}

std::optional<bool> read_bool(Reader& r, const Node& node, Pos at, const KeyPath& path) {
  // YAML 1.2 core schema booleans only: "yes", "on" and friends are the
  // YAML 1.1 surprises we do not want in a security policy.
  if (is_plain(node)) {
    const std::string& s = node.text;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  r.diags.error(at, path, "expected true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<std::uint64_t> read_integer(Reader& r, const Node& node, Pos at, const KeyPath& path,
                                          std::uint64_t min, std::uint64_t max,
                                          std::string_view what) {
  const std::string range = std::to_string(min) + "-" + std::to_string(max);
  if (is_plain(node)) {
    const std::string& s = node.text;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    const bool digits_only = !s.empty() && end == s.data() + s.size();
    if (digits_only && ec == std::errc{} && value >= min && value <= max) return value;
    if (digits_only) {
      const std::string shown = s.size() > 24 ? s.substr(0, 24) + "..." : s;
      r.diags.error(at, path, std::string{what} + " " + shown + " is out of range " + range);
      return std::nullopt;
    }
  }
  r.diags.error(
      at, path,
      "expected " + std::string{what} + " as an integer " + range + ", got " + describe(node));
  return std::nullopt;
}

std::string choice_error(Reader& r, const Node& node, std::span<const std::string_view> words) {
  std::string text = "expected " + std::string{words.size() > 2 ? "one of " : ""} +
                     join_words(words) + ", got " + describe(node);
  if (node.is_scalar()) text += r.hint(node.text, words);
  return text;
}

}  // namespace netpolicy::policy::yaml
