#pragma once
// A small read-only YAML tree built from yaml-cpp's parser events.
//
// Why not YAML::Node: building and walking yaml-cpp's node graph (shared
// pointers, node merging, linear map lookups) cost three times as much as
// parsing itself on a 20,000-rule policy. This tree keeps only what the
// loader needs: kind, whether a scalar was plain, its position, its text.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace netpolicy::policy::yaml {

// 1-based line and column, without the file name (added when a Diagnostic
// or a model Location is made).
struct Pos {
  int line = 1;
  int column = 1;
  [[nodiscard]] std::string str() const {
    return std::to_string(line) + ":" + std::to_string(column);
  }
};

enum class Kind : unsigned char { null, scalar, list, map };
// How a scalar was written. Core-schema tags that only confirm what a plain
// scalar would be (!!int, !!bool) count as plain.
enum class Style : unsigned char { plain, quoted, tagged };

struct Node {
  Kind kind = Kind::null;
  Style style = Style::plain;
  Pos at;
  long offset = -1;  // byte offset in the text, -1 if unknown
  std::string text;  // scalar value
  std::string tag;   // the explicit tag of a tagged scalar
  // list: the elements; map: key, value, key, value, ... in file order,
  // duplicates kept. An alias is the anchored node itself, so a node may
  // appear in several places (even inside itself).
  std::vector<const Node*> items;

  [[nodiscard]] bool is_null() const { return kind == Kind::null; }
  [[nodiscard]] bool is_scalar() const { return kind == Kind::scalar; }
  [[nodiscard]] bool is_list() const { return kind == Kind::list; }
  [[nodiscard]] bool is_map() const { return kind == Kind::map; }
  // Elements of a list, entries of a map.
  [[nodiscard]] std::size_t size() const {
    return kind == Kind::map ? items.size() / 2 : items.size();
  }
  [[nodiscard]] const Node& key(std::size_t entry) const { return *items[2 * entry]; }
  [[nodiscard]] const Node& value(std::size_t entry) const { return *items[2 * entry + 1]; }
  [[nodiscard]] const Node& element(std::size_t index) const { return *items[index]; }
};

// The first document of a YAML text. Not copyable or movable: nodes point
// at each other inside it.
class Document {
 public:
  // Parses `text`. Throws YAML::ParserException (from yaml-cpp) where the
  // text is not YAML.
  explicit Document(std::string_view text);
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  // nullptr when the text holds no document (empty, only comments).
  [[nodiscard]] const Node* root() const { return root_; }
  // Where a second document starts, if the text has one.
  [[nodiscard]] const Node* second_root() const { return second_root_; }

  // Used while building.
  Node& add() {
    if (used_ == chunk_size_) {
      // Chunks double up to a cap: small policies stay small, large ones
      // cost one allocation per few thousand nodes.
      if (!chunks_.empty()) chunk_size_ = std::min(2 * chunk_size_, kMaxChunk);
      chunks_.push_back(std::make_unique<Node[]>(chunk_size_));
      used_ = 0;
    }
    return chunks_.back()[used_++];
  }
  void set_root(const Node* node) { (root_ == nullptr ? root_ : second_root_) = node; }

 private:
  // Nodes in chunks that never move once allocated.
  static constexpr std::size_t kMaxChunk = 4096;
  std::vector<std::unique_ptr<Node[]>> chunks_;
  std::size_t chunk_size_ = 32;
  std::size_t used_ = chunk_size_;
  const Node* root_ = nullptr;
  const Node* second_root_ = nullptr;
};

}  // namespace netpolicy::policy::yaml
