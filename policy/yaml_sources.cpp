#include <charconv>

#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

namespace {

constexpr std::uint64_t kMaxInterval = 7 * 24 * 3600;  // a week
constexpr std::uint64_t kMaxTimeout = 600;
constexpr std::uint64_t kMinBytes = 1024;
constexpr std::uint64_t kMaxBytes = 64u << 20;  // the loader's own file cap

// "300", "300s", "5m", "1h" -> seconds in [min, max]; reported otherwise.
std::optional<std::uint64_t> read_duration(Reader& r, const Field& f, const KeyPath& path,
                                           std::uint64_t min, std::uint64_t max) {
  const Node& node = *f.value;
  if (node.is_scalar() && !node.text.empty()) {
    const std::string& s = node.text;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    const std::string_view unit{end, static_cast<std::size_t>(s.data() + s.size() - end)};
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    if (ec == std::errc{} && end != s.data() && scale != 0 && n <= max / scale) {
      const std::uint64_t seconds = n * scale;
      if (seconds >= min) return seconds;
    }
    if (ec == std::errc{} && end != s.data() && scale != 0) {
      r.diags.error(f.value_at, path,
                    quote(s) + " is out of range " + std::to_string(min) + "s-" +
                        std::to_string(max) + "s");
      return std::nullopt;
    }
  }
  r.diags.error(f.value_at, path,
                "expected a duration in seconds (300, 300s, 5m, 1h), got " + describe(node));
  return std::nullopt;
}

void read_central(Reader& r, const Field& section, const KeyPath& path,
                  std::optional<CentralSource>& out) {
  if (!expect_map(r, *section.value, section.value_at, path,
                  "a mapping with path, or url and its options"))
    return;
  static constexpr std::string_view keys[] = {"path", "url", "interval", "timeout", "max_bytes"};
  enum : std::size_t { kPath, kUrl, kInterval, kTimeout, kMaxBytesKey };
  auto fields = read_fields(r, *section.value, path, keys);
  CentralSource src;
  src.where = r.diags.location(section.key_at);
  const Field& p = fields[kPath];
  const Field& u = fields[kUrl];
  if (p.present == u.present) {
    r.diags.error(section.value_at, path,
                  p.present ? "give either path or url, not both"
                            : "missing required key 'path' (a file) or 'url' (http:// or https://)");
  }
  if (p.present) {
    if (auto v = read_string(r, *p.value, p.value_at, path.child("path"), "an absolute file path")) {
      if (v->empty() || (*v)[0] != '/')
        r.diags.error(p.value_at, path.child("path"),
                      "the central policy path " + quote(*v) + " is not absolute");
      src.path = std::move(*v);
    }
    for (std::size_t k : {kInterval, kTimeout, kMaxBytesKey})
      if (fields[k].present && k != kInterval)
        r.diags.error(fields[k].key_at, path.child(keys[k]),
                      std::string{keys[k]} + " applies to a url only");
  }
  if (u.present) {
    if (auto v = read_string(r, *u.value, u.value_at, path.child("url"), "an http(s) URL")) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
        r.diags.error(u.value_at, path.child("url"),
                      "the central policy url " + quote(*v) +
                          " does not start with http:// or https://");
      else if (v->find_first_of(" \t\r\n") != std::string::npos)
        r.diags.error(u.value_at, path.child("url"), "the central policy url contains whitespace");
      src.url = std::move(*v);
    }
    if (const Field& f = fields[kTimeout]; f.present) {
      if (auto v = read_duration(r, f, path.child("timeout"), 1, kMaxTimeout))
        src.timeout_seconds = *v;
    }
    if (const Field& f = fields[kMaxBytesKey]; f.present) {
      if (auto v = read_integer(r, *f.value, f.value_at, path.child("max_bytes"), kMinBytes,
                                kMaxBytes, "max_bytes"))
        src.max_bytes = *v;
    }
  }
  if (const Field& f = fields[kInterval]; f.present) {
    if (auto v = read_duration(r, f, path.child("interval"), 5, kMaxInterval))
      src.interval_seconds = *v;
  }
  out = std::move(src);
}

}  // namespace

void read_sources(Reader& r, const Field& section, std::optional<CentralSource>& out) {
  const KeyPath root;
  const KeyPath path = root.child("sources");
  if (!expect_map(r, *section.value, section.value_at, path, "a mapping with central")) return;
  static constexpr std::string_view keys[] = {"central"};
  auto fields = read_fields(r, *section.value, path, keys);
  if (fields[0].present) read_central(r, fields[0], path.child("central"), out);
}

}  // namespace netpolicy::policy::yaml
