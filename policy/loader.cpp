#include "policy/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/exceptions.h>

#include <cerrno>
#include <cstring>

#include "policy/policy_digest.h"
#include "policy/yaml_reader.h"
#include "policy/yaml_sections.h"
#include "policy/yaml_settings_ipsec.h"
#include "policy/yaml_tree.h"

namespace netpolicy::policy {

namespace {

using yaml::Field;
using yaml::KeyPath;
using yaml::Pos;

constexpr Pos kStart{1, 1};

// Owns the descriptor of the policy file while it is read.
class ReadFd {
 public:
  explicit ReadFd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ReadFd(const ReadFd&) = delete;
  ReadFd& operator=(const ReadFd&) = delete;
  ~ReadFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

std::vector<Diagnostic> one_error(const std::string& path, std::string message) {
  return {Diagnostic{Location{path, kStart.line, kStart.column}, std::move(message)}};
}

std::string too_big(std::size_t limit) {
  return "policy is larger than the limit of " + std::to_string(limit) + " bytes";
}

// The whole file, or the error located at PATH:1:1. Reads at most one byte
// past the limit, so an oversized file (or endless /dev/zero) costs nothing.
std::variant<std::string, std::vector<Diagnostic>> read_file(const std::string& path,
                                                             std::size_t limit) {
  ReadFd fd{path};
  if (fd.get() < 0) {
    const int error = errno;
    return one_error(path, std::string{"cannot read policy: "} + std::strerror(error));
  }
  struct stat st {};
  std::string bytes;
  if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<std::uint64_t>(st.st_size) > limit) return one_error(path, too_big(limit));
    bytes.reserve(static_cast<std::size_t>(st.st_size) + 1);
  }
  char buffer[65536];
  while (bytes.size() <= limit) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      return one_error(path, std::string{"cannot read policy: "} + std::strerror(error));
    }
    if (n == 0) return bytes;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  return one_error(path, too_big(limit));
}

constexpr std::string_view kSections[] = {"version", "settings", "zones",  "addresses",
                                          "rules",   "ipsec",    "sources"};
enum : std::size_t { kVersion, kSettings, kZones, kAddresses, kRules, kIpsec, kSources };

void read_version(yaml::Reader& r, const Field& f) {
  const KeyPath root;
  const KeyPath path = root.child("version");
  if (yaml::is_plain(*f.value)) {
    const std::string& s = f.value->text;
    if (s == "1") return;
    if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
      r.diags.error(f.value_at, path,
                    "unsupported schema version " + (s.size() > 24 ? s.substr(0, 24) + "..." : s) +
                        "; this netpolicyd reads version 1");
      return;
    }
  }
  r.diags.error(f.value_at, path, "expected the integer 1, got " + yaml::describe(*f.value));
}

// The settings of a central policy hold local_rules only: table, defaults
// and the rest stay the machine's choice in its main file.
void read_central_settings(yaml::Reader& r, const Field& f, Policy& policy) {
  const KeyPath root;
  const KeyPath path = root.child("settings");
  if (!yaml::expect_map(r, *f.value, f.value_at, path, "a mapping of settings")) return;
  static constexpr std::string_view keys[] = {"local_rules"};
  const yaml::Node& map = *f.value;
  for (std::size_t i = 0; i < map.size(); ++i) {
    const yaml::Node& key = map.key(i);
    if (key.is_scalar() && key.text != "local_rules")
      r.diags.error(key.at, path,
                    "a central policy's settings hold only local_rules; " + yaml::quote(key.text) +
                        " belongs in the machine's main policy file");
  }
  auto fields = yaml::read_fields(r, map, path, keys);
  if (const Field& lr = fields[0]; lr.present) {
    if (auto v = yaml::read_bool(r, *lr.value, lr.value_at, path.child("local_rules")))
      policy.local_rules = *v;
  }
}

void read_document(yaml::Reader& r, const yaml::Node& root, Policy& policy, PolicyRole role) {
  const KeyPath path;
  if (!root.is_map()) {
    r.diags.error(kStart, path,
                  "expected a mapping of policy sections (version, settings, zones, addresses, "
                  "rules, ipsec) at the top level, got " +
                      yaml::describe(root));
    return;
  }
  // A main file's settings may not name local_rules (a central policy's
  // choice); read_settings would call it unknown without saying why.
  if (role == PolicyRole::main) {
    for (std::size_t i = 0; i < root.size(); ++i) {
      if (root.key(i).text != "settings" || !root.value(i).is_map()) continue;
      const yaml::Node& settings = root.value(i);
      for (std::size_t j = 0; j < settings.size(); ++j)
        if (settings.key(j).text == "local_rules")
          r.diags.error(settings.key(j).at, path.child("settings"),
                        "local_rules is set by a central policy, not by the local one");
    }
  }
  auto fields = yaml::read_fields(r, root, path, kSections);
  if (yaml::require(r, fields[kVersion], "version", r.diags.at(root), path))
    read_version(r, fields[kVersion]);
  if (role != PolicyRole::main) {
    const char* what = role == PolicyRole::dropin ? "a drop-in" : "a central policy";
    if (const Field& f = fields[kSources]; f.present)
      r.diags.error(f.key_at, path.child("sources"),
                    std::string{"sources belong in the main policy file, not in "} + what);
    if (role == PolicyRole::dropin) {
      if (const Field& f = fields[kSettings]; f.present)
        r.diags.error(f.key_at, path.child("settings"),
                      "settings belong in the main policy file, not in a drop-in");
    } else if (const Field& f = fields[kSettings]; f.present) {
      read_central_settings(r, f, policy);
    }
  } else {
    if (const Field& f = fields[kSources]; f.present) yaml::read_sources(r, f, policy.central);
    if (const Field& f = fields[kSettings]; f.present)
      yaml::read_settings(r, fields[kSettings], policy.settings);
  }
  if (fields[kZones].present) yaml::read_zones(r, fields[kZones], policy.zones);
  if (fields[kAddresses].present) yaml::read_addresses(r, fields[kAddresses], policy.addresses);
  if (fields[kIpsec].present) yaml::read_ipsec(r, fields[kIpsec], policy.ipsec);
  // Last, because rules refer to everything above.
  if (fields[kRules].present) yaml::read_rules(r, fields[kRules], policy);
  if (fields[kRules].present && r.diags.empty()) yaml::check_protect_expansion(r, policy);
}

Pos from_parser_mark(const YAML::Mark& mark) {
  return Pos{std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1};
}

}  // namespace

LoadResult load_policy_file(const std::string& path, const Limits& limits) {
  auto bytes = read_file(path, limits.max_file_bytes);
  if (auto* errors = std::get_if<std::vector<Diagnostic>>(&bytes)) return std::move(*errors);
  return load_policy_text(std::get<std::string>(bytes), path, limits);
}

LoadResult load_policy_text(std::string_view text, const std::string& path, const Limits& limits) {
  return load_policy_text(text, path, PolicyRole::main, limits);
}

LoadResult load_policy_text(std::string_view text, const std::string& path, PolicyRole role,
                            const Limits& limits) {
  Policy policy;
  std::vector<Diagnostic> errors = load_policy_into(text, path, role, limits, policy);
  if (!errors.empty()) return errors;
  return policy;
}

std::vector<Diagnostic> load_policy_into(std::string_view text, const std::string& path,
                                         PolicyRole role, const Limits& limits, Policy& policy) {
  if (text.size() > limits.max_file_bytes) return one_error(path, too_big(limits.max_file_bytes));
  yaml::Diagnostics diags{path, text};
  yaml::Reader reader{diags, limits};
  try {
    const yaml::Document document{text};
    if (document.root() == nullptr || document.root()->is_null())
      return one_error(path, "policy is empty");
    if (const yaml::Node* second = document.second_root())
      diags.error(second->at, KeyPath{},
                  "a policy file holds one YAML document; found a second one here");
    read_document(reader, *document.root(), policy, role);
  } catch (const YAML::Exception& e) {
    // The parser's own words, where it stopped.
    diags.error(from_parser_mark(e.mark), KeyPath{}, "invalid YAML: " + e.msg);
  }
  if (!diags.empty()) return diags.take_sorted();
  policy.version = 1;
  if (policy.path.empty()) policy.path = path;
  std::string digest = sha256_hex(text);
  policy.files.push_back(path);
  policy.file_digests.push_back(digest);
  policy.sha256 = std::move(digest);
  return {};
}

std::variant<std::string, std::vector<Diagnostic>> read_policy_bytes(const std::string& path,
                                                                     std::size_t limit) {
  return read_file(path, limit);
}

}  // namespace netpolicy::policy
