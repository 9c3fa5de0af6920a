#include "policy/policy_set.h"

#include <dirent.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "filter/xfrm_sa_text.h"
#include "policy/policy_digest.h"

namespace netpolicy::policy {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

Diagnostic at_start(const std::string& path, std::string message) {
  return Diagnostic{Location{path, 1, 1}, std::move(message)};
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The drop-ins of DIR in byte order of their names, or the error.
std::vector<std::string> list_dropins(const std::string& dir, std::vector<Diagnostic>& errors) {
  std::vector<std::string> names;
  DirPtr d{::opendir(dir.c_str())};
  if (!d) {
    const int error = errno;
    if (error != ENOENT)
      errors.push_back(at_start(dir, std::string{"cannot read drop-in directory: "} +
                                         std::strerror(error)));
    return names;
  }
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name{e->d_name};
    if (name.empty() || name[0] == '.' || name.size() <= 5 ||
        name.substr(name.size() - 5) != ".yaml")
      continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) n = dir + "/" + n;
  return names;
}

// Names each kind already has, with where the first was defined.
struct Defined {
  std::unordered_map<std::string, Location> zones, groups, profiles, rules;
  std::unordered_map<std::uint32_t, Location> reqids;
  // A manual SA's (destination, SPI), shown as "0x1001 to 10.0.0.2": two
  // would be one SA to the kernel.
  std::unordered_map<std::string, Location> spis;
};


template <typename Map, typename Key>
void note(Map& map, const Key& key, const Location& where, const std::string& what,
          const std::string& shown, std::vector<Diagnostic>& errors) {
  if (auto it = map.find(key); it != map.end()) {
    errors.push_back(Diagnostic{where, what + " '" + shown + "' already defined at " +
                                           it->second.to_string()});
    return;
  }
  map.emplace(key, where);
}

// Checks the items of `p` from index `from.*` on against `seen`, and adds
// them. Items before `from` were checked by an earlier call.
struct Counts {
  std::size_t zones = 0, groups = 0, profiles = 0, rules = 0;
};
Counts counts(const Policy& p) {
  return {p.zones.size(), p.addresses.size(), p.ipsec.size(), p.rules.size()};
}
void check_names(const Policy& p, const Counts& from, bool with_rules, Defined& seen,
                 std::vector<Diagnostic>& errors) {
  for (std::size_t i = from.zones; i < p.zones.size(); ++i)
    note(seen.zones, p.zones[i].name, p.zones[i].where, "zone", p.zones[i].name, errors);
  for (std::size_t i = from.groups; i < p.addresses.size(); ++i)
    note(seen.groups, p.addresses[i].name, p.addresses[i].where, "address group",
         p.addresses[i].name, errors);
  for (std::size_t i = from.profiles; i < p.ipsec.size(); ++i) {
    const IpsecProfile& prof = p.ipsec[i];
    note(seen.profiles, prof.name, prof.where, "ipsec profile", prof.name, errors);
    if (prof.reqid != 0)
      note(seen.reqids, prof.reqid, prof.where, "ipsec reqid", std::to_string(prof.reqid),
           errors);
    if (prof.manual && prof.local && prof.remote) {
      for (const auto& [sa, to] : {std::pair{&prof.manual->out, &*prof.remote},
                                   std::pair{&prof.manual->in, &*prof.local}}) {
        if (sa->spi == 0) continue;
        const std::string shown = filter::spi_to_text(sa->spi, *to);
        note(seen.spis, shown, prof.manual->where, "manual SA spi", shown, errors);
      }
    }
  }
  if (with_rules)
    for (std::size_t i = from.rules; i < p.rules.size(); ++i)
      note(seen.rules, p.rules[i].name, p.rules[i].where, "rule", p.rules[i].name, errors);
}

void sort_by_place(std::vector<Diagnostic>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.where.file != b.where.file) return false;  // files stay in load order
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
}

// -1 when `name` is empty; the error when it is no group.
long resolve_group(const std::string& name, std::string& error) {
  if (name.empty()) return -1;
  group gr{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  const int r = ::getgrnam_r(name.c_str(), &gr, buffer.data(), buffer.size(), &found);
  if (r != 0 || found == nullptr) {
    error = "settings.trusted_group '" + name + "' is not a group on this system" +
            (r != 0 ? std::string{": "} + std::strerror(r) : std::string{});
    return -1;
  }
  return static_cast<long>(found->gr_gid);
}

}  // namespace

std::string combined_digest(const std::vector<std::string>& digests) {
  if (digests.size() == 1) return digests.front();
  std::string all;
  for (const auto& d : digests) all += d + "\n";
  return sha256_hex(all);
}

std::string unsafe_mode_reason(const std::string& path, long trusted_gid) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) {
    const int error = errno;
    return std::string{"cannot check its owner and mode: "} + std::strerror(error);
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  const bool dir = S_ISDIR(st.st_mode);
  const std::string what = dir ? "directory" : "file";
  // A sticky world-writable directory (/tmp) still lets others add files, so
  // it is refused like any other.
  if (st.st_uid != 0)
    return what + " is owned by uid " + std::to_string(st.st_uid) +
           ", not root; only root may own policy files (chown root)";
  if ((st.st_mode & S_IWOTH) != 0)
    return what + " is writable by others (mode " + mode + "); chmod o-w";
  if ((st.st_mode & S_IWGRP) != 0 && static_cast<long>(st.st_gid) != trusted_gid)
    return what + " is writable by group " + std::to_string(st.st_gid) + " (mode " + mode +
           "); chmod g-w, or name the group in settings.trusted_group";
  return {};
}

LoadResult load_local_policy(const std::string& path, const LocalLoadOptions& options) {
  std::vector<Diagnostic> errors;
  Policy policy;
  Defined seen;

  auto read_one = [&](const std::string& file, PolicyRole role) {
    auto bytes = read_policy_bytes(file, options.limits.max_file_bytes);
    if (auto* e = std::get_if<std::vector<Diagnostic>>(&bytes)) {
      errors.insert(errors.end(), e->begin(), e->end());
      return;
    }
    const Counts before = counts(policy);
    std::vector<Diagnostic> file_errors =
        load_policy_into(std::get<std::string>(bytes), file, role, options.limits, policy);
    if (!file_errors.empty()) {
      errors.insert(errors.end(), file_errors.begin(), file_errors.end());
      return;
    }
    std::vector<Diagnostic> dups;
    check_names(policy, before, true, seen, dups);
    sort_by_place(dups);
    errors.insert(errors.end(), dups.begin(), dups.end());
  };

  read_one(path, PolicyRole::main);
  const std::string dir = directory_of(path);
  const std::string dropin_dir = dir + "/policy.d";
  const std::vector<std::string> dropins = list_dropins(dropin_dir, errors);
  for (const auto& file : dropins) read_one(file, PolicyRole::dropin);

  if (options.strict_modes && errors.empty()) {
    std::string group_error;
    const long gid = resolve_group(policy.settings.trusted_group, group_error);
    if (!group_error.empty()) errors.push_back(at_start(path, group_error));
    std::vector<std::string> checked{dir, path};
    struct stat st {};
    if (::stat(dropin_dir.c_str(), &st) == 0) checked.push_back(dropin_dir);
    checked.insert(checked.end(), dropins.begin(), dropins.end());
    for (const auto& file : checked) {
      const std::string why = unsafe_mode_reason(file, gid);
      if (!why.empty()) errors.push_back(at_start(file, "refusing to read policy: " + why));
    }
  }
  if (!errors.empty()) return errors;
  policy.path = path;
  policy.sha256 = combined_digest(policy.file_digests);
  return policy;
}

LoadResult merge_central(Policy central, Policy local) {
  std::vector<Diagnostic> errors;
  Defined seen;
  check_names(central, Counts{}, true, seen, errors);
  check_names(local, Counts{}, central.local_rules, seen, errors);
  if (!errors.empty()) return errors;

  Policy merged;
  merged.version = 1;
  merged.settings = std::move(local.settings);
  merged.central = std::move(local.central);
  merged.path = local.path;
  merged.local_rules = central.local_rules;
  auto append = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  merged.zones = std::move(central.zones);
  append(merged.zones, local.zones);
  merged.addresses = std::move(central.addresses);
  append(merged.addresses, local.addresses);
  merged.ipsec = std::move(central.ipsec);
  append(merged.ipsec, local.ipsec);
  merged.rules = std::move(central.rules);
  if (central.local_rules) append(merged.rules, local.rules);
  merged.files = std::move(central.files);
  append(merged.files, local.files);
  merged.file_digests = std::move(central.file_digests);
  append(merged.file_digests, local.file_digests);
  merged.sha256 = combined_digest(merged.file_digests);
  return merged;
}

}  // namespace netpolicy::policy
