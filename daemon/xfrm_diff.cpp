#include "daemon/xfrm_diff.h"

#include <map>
#include <sstream>

namespace netpolicy::daemon {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The word after `word` in `line` ("dir out ..." -> "out"), or "".
std::string word_after(const std::string& line, const std::string& word) {
  std::istringstream in{line};
  std::string w;
  while (in >> w)
    if (w == word && in >> w) return w;
  return {};
}

// Identity -> the object's kernel lines joined with "; ".
using Objects = std::map<std::string, std::string>;

void add_object(const std::vector<std::string>& lines, Objects& out) {
  if (lines.empty()) return;
  std::string body;
  for (const auto& l : lines) body += (body.empty() ? "" : "; ") + l;
  // An SA: "src A dst B" then "proto esp spi S ..."; a policy: the
  // selector line then "dir D priority P ...".
  const std::string dir = lines.size() > 1 ? word_after(lines[1], "dir") : "";
  std::string key;
  if (!dir.empty())
    key = "xfrm policy dir " + dir + " " + lines[0];
  else
    key = "xfrm state " + lines[0] + " proto " + word_after(lines.size() > 1 ? lines[1] : "", "proto") +
          " spi " + word_after(lines.size() > 1 ? lines[1] : "", "spi");
  out[key] = body;
}

Objects parse(const std::string& text) {
  Objects objects;
  std::istringstream in{text};
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty()) continue;
    if (t.front() == '#') {
      add_object(lines, objects);
      lines.clear();
      continue;
    }
    lines.push_back(t);
  }
  add_object(lines, objects);
  return objects;
}

}  // namespace

std::vector<std::string> diff_xfrm(const std::string& before, const std::string& after) {
  const Objects old_objects = parse(before);
  const Objects new_objects = parse(after);
  std::vector<std::string> changes;
  for (const auto& [key, body] : old_objects) {
    auto it = new_objects.find(key);
    if (it == new_objects.end())
      changes.push_back("- " + key);
    else if (it->second != body)
      changes.push_back("~ " + key + ": " + body + " -> " + it->second);
  }
  for (const auto& [key, body] : new_objects)
    if (!old_objects.count(key)) changes.push_back("+ " + key);
  return changes;
}

}  // namespace netpolicy::daemon
