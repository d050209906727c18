// The live key table: the keys of the config plus those of every file in `auth.keys_dir` (a
// mounted Kubernetes Secret). The control thread calls poll() every reload_interval; it lists
// the directory, stat()s each file (following symlinks; names starting with '.' such as
// `..data` are skipped) and reads again only the files whose identity changed. A file that does
// not parse keeps the keys it had (logged with file and reason, counted); a removed file removes
// its keys. Any change publishes a new immutable table; workers read it with one atomic load.
//
// Threads: construction and poll() on one thread (the control thread); current() and the
// counters from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/key_table.hpp"
#include "auth/watched_file.hpp"
#include "infergate/config.hpp"

namespace infergate::auth {

using KeyTablePtr = std::shared_ptr<const KeyTable>;

class KeySource {
 public:
  // Builds the first table from config.keys and the files of config.keys_dir. Never throws for
  // a file or directory problem (logged and counted; the next poll tries again).
  explicit KeySource(const AuthConfig& config);

  KeySource(const KeySource&) = delete;
  KeySource& operator=(const KeySource&) = delete;

  // The table to check a request against (never null).
  KeyTablePtr current() const noexcept { return table_.load(std::memory_order_acquire); }
  // Moves after every publish (after the table): a worker that keeps its own copy of the table
  // compares this one counter per request instead of loading the shared pointer.
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  // Looks at keys_dir; true when a new table was published. Cheap when nothing changed: one
  // directory listing and one stat() per file.
  bool poll();

  // For /metrics.
  std::uint64_t reloads() const noexcept { return reloads_.load(std::memory_order_relaxed); }
  std::uint64_t reload_errors() const noexcept { return reload_errors_.load(std::memory_order_relaxed); }
  std::size_t keys_loaded() const noexcept { return keys_loaded_.load(std::memory_order_relaxed); }

  const std::string& keys_dir() const noexcept { return dir_; }

 private:
  struct File {
    FileIdentity identity;
    std::vector<ApiKeyConfig> keys;  // as digests; the last good content's
    bool ok = false;                 // the current content parsed
  };

  bool scan();                        // true when the files' keys changed
  bool load(const std::string& name, File& file);  // true when its keys changed
  void publish();
  void error(const std::string& what);

  std::vector<ApiKeyConfig> config_keys_;  // as digests
  std::string dir_;
  std::map<std::string, File> files_;  // by name: the table's order after the config's keys
  bool dir_failed_ = false;            // logged once per state change
  std::atomic<KeyTablePtr> table_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> reload_errors_{0};
  std::atomic<std::size_t> keys_loaded_{0};
};

}  // namespace infergate::auth
