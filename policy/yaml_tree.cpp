#include "policy/yaml_tree.h"

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
    node->plain = tag == "?";  // "!" for quoted, the tag text for explicit tags
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
  if (parser.HandleNextDocument(builder)) parser.HandleNextDocument(builder);
}

}  // namespace netpolicy::policy::yaml
