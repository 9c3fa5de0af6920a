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

void read_document(yaml::Reader& r, const yaml::Node& root, Policy& policy) {
  const KeyPath path;
  if (!root.is_map()) {
    r.diags.error(kStart, path,
                  "expected a mapping of policy sections (version, settings, zones, addresses, "
                  "rules, ipsec) at the top level, got " +
                      yaml::describe(root));
    return;
  }
  auto fields = yaml::read_fields(r, root, path, kSections);
  if (yaml::require(r, fields[kVersion], "version", r.diags.at(root), path))
    read_version(r, fields[kVersion]);
  if (const Field& f = fields[kSources]; f.present)
    r.diags.error(f.key_at, path.child("sources"),
                  "central policy sources are not supported by this version");
  if (fields[kSettings].present) yaml::read_settings(r, fields[kSettings], policy.settings);
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
  if (text.size() > limits.max_file_bytes) return one_error(path, too_big(limits.max_file_bytes));
  yaml::Diagnostics diags{path, text};
  yaml::Reader reader{diags, limits};
  Policy policy;
  try {
    const yaml::Document document{text};
    if (document.root() == nullptr || document.root()->is_null())
      return one_error(path, "policy is empty");
    if (const yaml::Node* second = document.second_root())
      diags.error(second->at, KeyPath{},
                  "a policy file holds one YAML document; found a second one here");
    read_document(reader, *document.root(), policy);
  } catch (const YAML::Exception& e) {
    // The parser's own words, where it stopped.
    diags.error(from_parser_mark(e.mark), KeyPath{}, "invalid YAML: " + e.msg);
  }
  if (!diags.empty()) return diags.take_sorted();
  policy.version = 1;
  policy.path = path;
  policy.sha256 = sha256_hex(text);
  return policy;
}

}  // namespace netpolicy::policy
