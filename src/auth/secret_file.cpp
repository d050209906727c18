#include "auth/secret_file.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "auth/log.hpp"
#include "routing/api_key_text.hpp"

namespace infergate::auth {
namespace {

constexpr std::size_t max_secret_file_bytes = 64u << 10;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// The key out of the file's text ("KEY" or "Bearer KEY"); empty view when it holds no valid key.
std::string_view key_of(std::string_view text) {
  text = trim(text);
  constexpr std::string_view scheme = "bearer";
  if (text.size() > scheme.size() + 1 && text[scheme.size()] == ' ' &&
      std::equal(scheme.begin(), scheme.end(), text.begin(),
                 [](char a, char b) { return a == (b | 0x20); })) {
    text = trim(text.substr(scheme.size()));
  }
  return valid_clear_key(text) ? text : std::string_view();
}

}  // namespace

SecretFile::SecretFile(std::string path) : path_(std::move(path)) { load(); }

bool SecretFile::poll() {
  const auto identity = regular_file_identity(path_);
  if (identity && seen_ && *identity == identity_) return false;
  return load();  // changed, or still unreadable (said once per reason)
}

bool SecretFile::load() {
  std::string content, why;
  FileIdentity identity;
  const bool read = read_regular_file(path_, max_secret_file_bytes, content, identity, why);
  const std::string_view key = read ? key_of(content) : std::string_view();
  if (read) {
    identity_ = identity;
    seen_ = true;
  }
  if (key.empty()) {
    if (read) why = trim(content).empty() ? "the file is empty" : "not one key of printable ASCII";
    wipe(content);
    // A new bad version (read) is always news; an unreadable file only when the reason changed.
    if (read || why != last_error_) {
      log().error("pool key file rejected file={} reason={} (keeping the {})", path_, why,
                  current() ? "last good key" : "header unset");
      reload_errors_.fetch_add(1, std::memory_order_relaxed);
    }
    last_error_ = why;
    return false;
  }
  last_error_.clear();
  auto value = std::make_shared<const std::string>(fmt::format("Bearer {}", key));
  wipe(content);
  const auto before = current();
  if (before && *before == *value) return false;
  if (before) log().info("pool key file changed file={}", path_);
  if (before) reloads_.fetch_add(1, std::memory_order_relaxed);
  value_.store(std::move(value), std::memory_order_release);
  return true;
}

}  // namespace infergate::auth
