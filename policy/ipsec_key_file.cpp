#include "policy/ipsec_key_file.h"

#include <fcntl.h>
#include <string.h>  // explicit_bzero
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

namespace netpolicy::policy {

namespace {

// Closes on scope exit; a raw fd never outlives this file.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Whether `dir` and every directory above it may hold a secret: owned by
// root (or `also_owner`), and not writable by group or others unless sticky
// (like /tmp, where nobody may rename or delete another's entry). Otherwise
// someone else could swap the key file for another of root's files. Both the
// directories as named (a symlink among them is checked as the link's
// directory) and as resolved are walked.
std::optional<std::string> untrusted_directory(const std::string& path, uid_t also_owner) {
  auto check = [&](std::filesystem::path dir) -> std::optional<std::string> {
    for (;;) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0) {
        const int error = errno;
        return "cannot check its directory " + dir.string() + ": " + std::strerror(error);
      }
      if (st.st_uid != 0 && st.st_uid != also_owner)
        return "its directory " + dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
               ", not root";
      if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
        return "its directory " + dir.string() + " may be written by group or others (mode " +
               mode_text(st.st_mode) + ")";
      if (!dir.has_relative_path()) return std::nullopt;  // "/" checked
      dir = dir.parent_path();
    }
  };
  const std::filesystem::path named = std::filesystem::path{path}.parent_path();
  if (auto why = check(named)) return why;
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::canonical(named, ec);
  if (ec) return "cannot resolve its directory " + named.string() + ": " + ec.message();
  if (resolved != named) return check(resolved);
  return std::nullopt;
}

}  // namespace

std::variant<filter::XfrmKey, std::string> parse_hex_key(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  if (text.size() - i >= 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X'))
    i += 2;
  std::vector<std::uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  int high = -1;
  std::string error;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) continue;
    const int v = hex_value(c);
    if (v < 0) {
      // Say where, never what: the rest of the file may be key material.
      error = "it holds a character that is not a hex digit at byte " + std::to_string(i + 1) +
              " (a key file holds hex digits, optionally after 0x, and whitespace)";
      break;
    }
    if (high < 0) {
      high = v;
    } else {
      bytes.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (error.empty() && high >= 0) error = "it holds an odd number of hex digits";
  if (error.empty() && bytes.empty()) error = "it holds no key (no hex digits)";
  filter::XfrmKey key{bytes};
  if (!bytes.empty()) explicit_bzero(bytes.data(), bytes.size());
  if (!error.empty()) return error;
  return key;
}

std::variant<filter::XfrmKey, std::string> read_key_file(const std::string& path,
                                                         uid_t also_owner) {
  // O_NOFOLLOW: a symlink is refused (ELOOP) rather than followed to a file
  // whose checks would not be the link's; O_NONBLOCK: a FIFO must not hang
  // the loader (it is refused below as not a regular file).
  FdCloser fd{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (fd.fd < 0) {
    const int error = errno;
    if (error == ELOOP) return std::string{"it is a symbolic link; name the file itself"};
    return std::string{"cannot open it: "} + std::strerror(error);
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) < 0) {
    const int error = errno;
    return std::string{"cannot check its owner and mode: "} + std::strerror(error);
  }
  if (!S_ISREG(st.st_mode)) return std::string{"it is not a regular file"};
  if (st.st_uid != 0 && st.st_uid != also_owner)
    return "it is owned by uid " + std::to_string(st.st_uid) +
           ", not root; only root may own key files (chown root)";
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return "it is accessible by group or others (mode " + mode_text(st.st_mode) +
           "); a key file must be private to its owner (chmod 600)";
  if (auto why = untrusted_directory(path, also_owner)) return *why;
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes))
    return "it is " + std::to_string(st.st_size) + " bytes long, more than a key file may be (" +
           std::to_string(kMaxKeyFileBytes) + ")";
  std::array<char, kMaxKeyFileBytes + 1> buf{};
  std::size_t used = 0;
  std::string failure;
  for (;;) {
    const ssize_t n = ::read(fd.fd, buf.data() + used, buf.size() - used);
    if (n < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      failure = std::string{"cannot read it: "} + std::strerror(error);
      break;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
    if (used == buf.size()) {
      failure = "it is longer than a key file may be (" + std::to_string(kMaxKeyFileBytes) +
                " bytes)";
      break;
    }
  }
  std::variant<filter::XfrmKey, std::string> result =
      failure.empty() ? parse_hex_key(std::string_view{buf.data(), used})
                      : std::variant<filter::XfrmKey, std::string>{failure};
  explicit_bzero(buf.data(), buf.size());
  return result;
}

}  // namespace netpolicy::policy
