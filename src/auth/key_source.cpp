#include "auth/key_source.hpp"

#include <cerrno>
#include <cstring>
#include <set>

#include <dirent.h>

#include <fmt/format.h>

#include "auth/key_file.hpp"
#include "auth/log.hpp"

namespace infergate::auth {
namespace {

// A key file is small: one key, or a list of a few hundred.
constexpr std::size_t max_key_file_bytes = 1u << 20;

// Names of the directory's entries, skipping '.', '..' and Kubernetes' `..data` and
// `..2026_...` (every name starting with '.'). false when the directory cannot be read.
bool list_names(const std::string& dir, std::set<std::string>& names, std::string& error) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    error = std::strerror(errno);
    return false;
  }
  // Bounded by the directory's size; readdir() returns each entry once.
  while (const dirent* entry = ::readdir(d)) {
    if (entry->d_name[0] != '.') names.emplace(entry->d_name);
  }
  ::closedir(d);
  return true;
}

}  // namespace

KeySource::KeySource(const AuthConfig& config) : config_keys_(config.keys), dir_(config.keys_dir) {
  for (ApiKeyConfig& key : config_keys_) {
    if (const auto digest = configured_key_digest(key.key)) {
      wipe(key.key);
      key.key = digest_text(*digest);
    }
  }
  if (!dir_.empty()) scan();
  publish();
}

bool KeySource::poll() {
  if (dir_.empty() || !scan()) return false;
  publish();
  reloads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool KeySource::scan() {
  std::set<std::string> names;
  std::string why;
  if (!list_names(dir_, names, why)) {
    // Keep every key: a directory that cannot be listed says nothing about the keys.
    if (!dir_failed_) error(fmt::format("cannot list keys_dir={} reason={} (keeping the loaded keys)", dir_, why));
    dir_failed_ = true;
    return false;
  }
  if (dir_failed_) log().info("keys_dir readable again dir={}", dir_);
  dir_failed_ = false;
  // One stat() per name; what is not a regular file (a subdirectory, a dangling link) has no keys.
  std::map<std::string, FileIdentity> present;
  for (const std::string& name : names) {
    if (const auto identity = regular_file_identity(dir_ + "/" + name)) present.emplace(name, *identity);
  }
  bool changed = false;
  for (auto it = files_.begin(); it != files_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    log().info("key file removed file={}/{} keys={}", dir_, it->first, it->second.keys.size());
    changed = changed || !it->second.keys.empty();
    it = files_.erase(it);
  }
  for (const auto& [name, identity] : present) {
    const auto known = files_.find(name);
    if (known != files_.end() && known->second.identity == identity) continue;
    changed = load(name, files_[name]) || changed;
  }
  return changed;
}

bool KeySource::load(const std::string& name, File& file) {
  const std::string path = dir_ + "/" + name;
  std::string content, why;
  FileIdentity identity;
  const bool read = read_regular_file(path, max_key_file_bytes, content, identity, why);
  // Remember what was looked at even when it is bad, so one bad version is logged once.
  file.identity = read ? identity : regular_file_identity(path).value_or(FileIdentity{});
  KeyFileResult parsed;
  if (read) parsed = parse_key_file(name, path, content);
  wipe(content);
  if (!read || !parsed.ok) {
    file.ok = false;
    error(fmt::format("key file rejected file={} reason={} (keeping its {} previous keys)", path,
                      read ? parsed.error : why, file.keys.size()));
    return false;
  }
  file.ok = true;
  if (parsed.keys == file.keys) return false;  // touched, same keys
  log().info("key file loaded file={} keys={}", path, parsed.keys.size());
  file.keys = std::move(parsed.keys);
  return true;
}

void KeySource::publish() {
  std::vector<ApiKeyConfig> all = config_keys_;
  for (const auto& [name, file] : files_) all.insert(all.end(), file.keys.begin(), file.keys.end());
  std::vector<std::string> rejected;
  auto table = std::make_shared<const KeyTable>(all, &rejected);
  for (const std::string& what : rejected) error(fmt::format("key left out {}", what));
  keys_loaded_.store(table->size(), std::memory_order_relaxed);
  table_.store(std::move(table), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_release);
}

void KeySource::error(const std::string& what) {
  log().error("{}", what);
  reload_errors_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace infergate::auth
