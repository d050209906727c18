// Watches the config file and says when its content changed, the ways it really changes:
//  - an editor writing in place, or writing a temporary file and renaming it over;
//  - Kubernetes updating a mounted ConfigMap: `gateway.yaml -> ..data/gateway.yaml`, and
//    `..data -> ..2026_12_07_...` swapped by renaming a fresh symlink over it. The file itself is
//    never written, so the DIRECTORY is watched (inotify), for events naming the file or `..data`.
// Events are debounced (a burst gives one call once `debounce` passed without another), and the
// call comes only when the bytes changed (compared by hash): a touch, a chmod, an unrelated file
// in the directory, or the file vanishing and coming back as it was, give none. A file that
// disappears is not a change; its return with other content is.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace infergate::app {

struct ConfigWatchStats {
  std::uint64_t events = 0;    // inotify events read
  std::uint64_t relevant = 0;  // of them, naming the file or `..data` (or a queue overflow)
  std::uint64_t checks = 0;    // debounced looks at the file's content
  std::uint64_t changes = 0;   // on_change() calls
};

class ConfigWatch {
 public:
  // Calls on_change() from its own thread after the file at `path` changed (debounced, content
  // compared); keep it short (post to the control thread). Throws std::runtime_error if inotify
  // cannot be set up (no such directory, out of watches).
  ConfigWatch(std::string path, std::chrono::milliseconds debounce, std::function<void()> on_change);
  ~ConfigWatch();  // stops and joins
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  void start();

  ConfigWatchStats stats() const noexcept;

 private:
  void run();
  bool read_events();  // true when one of them was relevant
  bool rewatch();      // the directory's watch was lost (it moved): try again
  void check();

  std::string path_, dir_, name_;
  std::chrono::milliseconds debounce_;
  std::function<void()> on_change_;
  int inotify_ = -1;
  int watch_ = -1;
  int stop_ = -1;  // eventfd: the destructor wakes the thread
  std::optional<std::uint64_t> hash_;  // of the last content seen; none: never readable yet
  std::atomic<std::uint64_t> events_{0}, relevant_{0}, checks_{0}, changes_{0};
  std::thread thread_;
};

}  // namespace infergate::app
