#include "daemon/ruleset_diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace netpolicy::daemon {

namespace {

struct Object {
  std::string kind;  // set | map | chain
  std::string name;
  std::vector<std::string> properties;  // set/map: "type ...", "flags ..."; chain: "type ... hook"
  std::set<std::string> elements;       // set/map
  std::vector<std::string> rules;       // chain, in order
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Splits "a, b, c" at top-level commas (an element never holds one inside
// quotes in this renderer's output, but stay safe).
void add_elements(const std::string& list, std::set<std::string>& out) {
  std::string cur;
  bool quoted = false;
  for (char c : list) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      if (auto t = trim(cur); !t.empty()) out.insert(t);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (auto t = trim(cur); !t.empty()) out.insert(t);
}

std::vector<Object> parse(const std::string& text) {
  std::vector<Object> objects;
  std::istringstream in{text};
  std::string line;
  Object* cur = nullptr;
  std::string pending_elements;  // an element list wrapped over lines
  bool in_elements = false;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty()) continue;
    if (in_elements) {
      pending_elements += " " + t;
      if (t.find('}') != std::string::npos) {
        in_elements = false;
        add_elements(pending_elements.substr(0, pending_elements.rfind('}')), cur->elements);
      }
      continue;
    }
    for (const char* kind : {"set ", "map ", "chain "}) {
      if (t.rfind(kind, 0) == 0 && t.back() == '{') {
        Object o;
        o.kind = trim(kind);
        o.name = trim(t.substr(o.kind.size(), t.size() - o.kind.size() - 1));
        objects.push_back(std::move(o));
        cur = &objects.back();
        break;
      }
    }
    if (cur == nullptr || &objects.back() != cur || t.back() == '{') continue;
    if (t == "}") {
      cur = nullptr;
      continue;
    }
    if (cur->kind == "chain") {
      if (t.rfind("type ", 0) == 0 && t.find(" hook ") != std::string::npos)
        cur->properties.push_back(t);
      else
        cur->rules.push_back(t);
    } else if (t.rfind("elements = {", 0) == 0) {
      const std::string rest = t.substr(std::string{"elements = {"}.size());
      if (rest.find('}') != std::string::npos) {
        add_elements(rest.substr(0, rest.rfind('}')), cur->elements);
      } else {
        pending_elements = rest;
        in_elements = true;
      }
    } else {
      cur->properties.push_back(t);
    }
  }
  return objects;
}

std::string comment_of(const std::string& rule) {
  const auto at = rule.rfind(" comment \"");
  if (at == std::string::npos) return {};
  return rule.substr(at + 10, rule.size() - at - 11);
}

std::string key(const Object& o) { return o.kind + " " + o.name; }

void diff_object(const Object& a, const Object& b, std::vector<std::string>& out) {
  const std::string head = "~ " + key(a) + ": ";
  if (a.properties != b.properties) {
    std::string from, to;
    for (const auto& p : a.properties) from += (from.empty() ? "" : "; ") + p;
    for (const auto& p : b.properties) to += (to.empty() ? "" : "; ") + p;
    out.push_back(head + from + " -> " + to);
  }
  for (const auto& e : a.elements)
    if (!b.elements.count(e)) out.push_back(head + "- element " + e);
  for (const auto& e : b.elements)
    if (!a.elements.count(e)) out.push_back(head + "+ element " + e);
  if (a.rules == b.rules) return;
  // Rules with a comment are matched by it; the others by their text.
  std::map<std::string, std::string> named_a, named_b;
  std::multiset<std::string> plain_a, plain_b;
  for (const auto& r : a.rules) {
    if (auto c = comment_of(r); !c.empty()) named_a[c] = r; else plain_a.insert(r);
  }
  for (const auto& r : b.rules) {
    if (auto c = comment_of(r); !c.empty()) named_b[c] = r; else plain_b.insert(r);
  }
  bool any = false;
  for (const auto& r : a.rules) {
    const auto c = comment_of(r);
    if (c.empty()) {
      if (auto it = plain_b.find(r); it != plain_b.end()) plain_b.erase(it);
      else { out.push_back(head + "- rule " + r); any = true; }
    } else if (auto it = named_b.find(c); it == named_b.end()) {
      out.push_back(head + "- rule " + r);
      any = true;
    } else if (it->second != r) {
      out.push_back(head + "rule '" + c + "': " + r + " -> " + it->second);
      any = true;
    }
  }
  for (const auto& r : b.rules) {
    const auto c = comment_of(r);
    if (c.empty() ? plain_b.count(r) != 0 : named_a.count(c) == 0) {
      out.push_back(head + "+ rule " + r);
      any = true;
      if (c.empty()) plain_b.erase(plain_b.find(r));
    }
  }
  if (!any) out.push_back(head + "rule order changed");
}

}  // namespace

std::vector<std::string> diff_rulesets(const std::string& before, const std::string& after) {
  const std::vector<Object> a = parse(before);
  const std::vector<Object> b = parse(after);
  std::map<std::string, const Object*> in_b;
  for (const auto& o : b) in_b[key(o)] = &o;
  std::set<std::string> in_a;
  std::vector<std::string> out;
  for (const auto& o : a) {
    in_a.insert(key(o));
    auto it = in_b.find(key(o));
    if (it == in_b.end()) out.push_back("- " + key(o));
    else diff_object(o, *it->second, out);
  }
  for (const auto& o : b)
    if (!in_a.count(key(o))) {
      out.push_back("+ " + key(o));
      for (const auto& e : o.elements) out.push_back("~ " + key(o) + ": + element " + e);
      for (const auto& r : o.rules) out.push_back("~ " + key(o) + ": + rule " + r);
    }
  return out;
}

}  // namespace netpolicy::daemon
