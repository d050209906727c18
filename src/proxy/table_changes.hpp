// The last few changes of the routing table (a config file, a SIGHUP, the Kubernetes source,
// the start itself) and whether each was applied or refused and why: /debug/changes and the
// status page, so an operator can see whether an edit took without reading logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

namespace infergate::proxy {

class TableChanges {
 public:
  static constexpr std::size_t kKept = 20;

  struct Change {
    std::int64_t unix_ms = 0;
    std::string source;  // "startup", "file", "sighup", "kubernetes", "build"
    bool applied = false;
    std::string detail;  // what changed, or why it was refused (file:line:field)
  };

  // Any thread. Keeps the newest kKept; the oldest is dropped.
  void record(std::string_view source, bool applied, std::string detail);
  // The same with an explicit time (tests, replays).
  void record_at(std::int64_t unix_ms, std::string_view source, bool applied, std::string detail);

  // {"changes":[{"unix_ms":..,"source":"..","applied":..,"detail":".."}]}, newest first. Any thread.
  std::string render_json() const;

 private:
  mutable std::mutex mutex_;  // rare writers, rare readers: a lock is the simple right thing
  std::deque<Change> changes_;  // newest at the front
};

}  // namespace infergate::proxy
