// One watched file holding a pool's own key (`upstream_auth: {mode: replace, key_file: ...}`):
// what goes to that pool's servers as `Authorization`. The file holds the key alone (or
// "Bearer <key>"); surrounding whitespace and the final newline are ignored. A file that is
// unreadable, empty or holds anything but one key of printable ASCII keeps the last good value
// (logged, counted): a half-written file never sends a broken header.
//
// Threads: construction and poll() on the control thread; current() and counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "auth/watched_file.hpp"

namespace infergate::auth {

class SecretFile {
 public:
  // Reads the file now; never throws (a bad file is logged and counted, current() stays null).
  explicit SecretFile(std::string path);

  SecretFile(const SecretFile&) = delete;
  SecretFile& operator=(const SecretFile&) = delete;

  // The header value "Bearer <key>", or null when no good content was ever read.
  std::shared_ptr<const std::string> current() const noexcept {
    return value_.load(std::memory_order_acquire);
  }

  // Reads the file again if its identity changed; true when the value changed.
  bool poll();

  std::uint64_t reloads() const noexcept { return reloads_.load(std::memory_order_relaxed); }
  std::uint64_t reload_errors() const noexcept { return reload_errors_.load(std::memory_order_relaxed); }
  const std::string& path() const noexcept { return path_; }

 private:
  bool load();

  std::string path_;
  FileIdentity identity_;
  bool seen_ = false;   // identity_ holds something
  std::string last_error_;  // why the last look failed ("" when it did not): logged once each
  std::atomic<std::shared_ptr<const std::string>> value_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> reload_errors_{0};
};

}  // namespace infergate::auth
