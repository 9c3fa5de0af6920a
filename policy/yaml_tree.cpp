#include "policy/yaml_tree.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

namespace netpolicy::policy::yaml {

namespace {

class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(Document& doc) : doc_(doc) {}

  void OnDocumentStart(const YAML::Mark&) override {
    stack_.clear();
    anchors_.clear();  // anchors are per document
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    attach(make(Kind::null, mark, anchor));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    // yaml-cpp refuses unknown aliases itself; keep a null just in case.
    attach(it != anchors_.end() ? it->second : make(Kind::null, mark, YAML::NullAnchor));
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Node* node = make(Kind::scalar, mark, anchor);
    // yaml-cpp: "?" for plain, "!" for quoted, else the explicit tag.
    if (tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:bool") {
      node->style = Style::plain;
    } else if (tag == "!") {
      node->style = Style::quoted;
    } else {
      node->style = Style::tagged;
      node->tag = tag;
    }
    node->text = value;
    attach(node);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(make(Kind::list, mark, anchor));
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(make(Kind::map, mark, anchor));
  }
  void OnMapEnd() override { stack_.pop_back(); }

  // The innermost list or mapping still open, if any.
  [[nodiscard]] const Node* innermost() const { return stack_.empty() ? nullptr : stack_.back(); }

 private:
  Node* make(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    Node& node = doc_.add();
    node.kind = kind;
    // yaml-cpp marks are 0-based; -1 means unknown: point at the start.
    node.at = Pos{std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1};
    node.offset = mark.pos;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = &node;
    return &node;
  }
  void attach(const Node* node) {
    if (stack_.empty())
      doc_.set_root(node);
    else
      stack_.back()->items.push_back(node);
  }
  void open(Node* node) {
    attach(node);
    stack_.push_back(node);
  }

  Document& doc_;
  std::vector<Node*> stack_;
  std::unordered_map<YAML::anchor_t, const Node*> anchors_;
};

}  // namespace

Document::Document(std::string_view text) {
  std::istringstream in{std::string{text}};
  YAML::Parser parser{in};
  TreeBuilder builder{*this};
  // The first document, and the start of a second one if there is one: a
  // policy file holds exactly one.
  try {
    if (parser.HandleNextDocument(builder)) parser.HandleNextDocument(builder);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp says only "bad file", where its scanner has got to (often
    // the end of the file); the innermost open node is where the nesting
    // went too deep.
    YAML::Mark mark = e.mark;
    if (const Node* node = builder.innermost()) {
      mark.pos = static_cast<int>(node->offset);
      mark.line = node->at.line - 1;
      mark.column = node->at.column - 1;
    }
    // Its guard counts parser calls, about two per level, not levels.
    throw YAML::ParserException(mark, "nested too deeply for the parser");
  }
}

}  // namespace netpolicy::policy::yaml
