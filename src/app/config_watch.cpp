// ConfigWatch: one thread in poll(2) on the inotify descriptor and an eventfd (for stop), with a
// bounded timeout: the debounce deadline when events are pending, else a second (to retry a lost
// watch). The file is read whole and hashed only once the events went quiet.
#include "app/config_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <xxhash.h>

namespace infergate::app {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE |
                                IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::string_view kConfigMapData = "..data";
constexpr int kIdlePollMs = 1000;

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()->clone("config");
  return *logger;
}

// The file's bytes, following symlinks; none when it cannot be read (gone, mid-swap).
std::optional<std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<std::uint64_t> content_hash(const std::string& path) {
  const auto bytes = read_file(path);
  if (!bytes) return std::nullopt;
  return XXH3_64bits(bytes->data(), bytes->size());
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("config watch: " + what + ": " + std::strerror(errno));
}

}  // namespace

ConfigWatch::ConfigWatch(std::string path, std::chrono::milliseconds debounce,
                         std::function<void()> on_change)
    : path_(std::move(path)), debounce_(debounce), on_change_(std::move(on_change)) {
  const std::filesystem::path p(path_);
  dir_ = p.has_parent_path() ? p.parent_path().string() : ".";
  name_ = p.filename().string();
  inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ < 0) fail("inotify_init1");
  stop_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  watch_ = ::inotify_add_watch(inotify_, dir_.c_str(), kMask);
  if (stop_ < 0 || watch_ < 0) {
    const int error = errno;
    ::close(inotify_);
    if (stop_ >= 0) ::close(stop_);
    errno = error;
    fail(stop_ < 0 ? std::string("eventfd") : "cannot watch directory '" + dir_ + "'");
  }
  // After the watch is set: a change from here on is either in this hash or in an event.
  hash_ = content_hash(path_);
}

ConfigWatch::~ConfigWatch() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(stop_, &one, sizeof one);
    thread_.join();
  }
  ::close(inotify_);
  ::close(stop_);
}

void ConfigWatch::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

ConfigWatchStats ConfigWatch::stats() const noexcept {
  const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return {get(events_), get(relevant_), get(checks_), get(changes_)};
}

void ConfigWatch::run() {
  std::optional<Clock::time_point> due;  // set: relevant events, look once they went quiet
  for (;;) {
    int timeout = kIdlePollMs;
    if (due) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(left, 0, kIdlePollMs));
    }
    pollfd fds[2] = {{stop_, POLLIN, 0}, {inotify_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout);
    if (ready < 0 && errno != EINTR) {
      log().error("poll failed error=\"{}\"; the config file is no longer watched", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;
    const bool relevant = (fds[1].revents & POLLIN) != 0 && read_events();
    if (relevant || (watch_ < 0 && rewatch())) due = Clock::now() + debounce_;
    if (due && Clock::now() >= *due) {
      due.reset();
      check();
    }
  }
}

bool ConfigWatch::read_events() {
  alignas(inotify_event) char buf[8192];
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::read(inotify_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: all read
    for (char* at = buf; at < buf + n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      events_.fetch_add(1, std::memory_order_relaxed);
      const std::string_view name = event->len ? std::string_view(event->name) : std::string_view();
      // An overflow may have swallowed ours; a lost watch (the directory moved) needs a look too.
      const bool lost = (event->mask & IN_IGNORED) != 0 && event->wd == watch_;
      if (lost) {
        log().warn("watch on directory '{}' lost; retrying every second", dir_);
        watch_ = -1;
      }
      if (name == name_ || name == kConfigMapData || (event->mask & IN_Q_OVERFLOW) || lost) {
        relevant = true;
        relevant_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  return relevant;
}

bool ConfigWatch::rewatch() {
  watch_ = ::inotify_add_watch(inotify_, dir_.c_str(), kMask);
  if (watch_ >= 0) log().info("watching directory '{}' again", dir_);
  return watch_ >= 0;
}

void ConfigWatch::check() {
  checks_.fetch_add(1, std::memory_order_relaxed);
  const auto hash = content_hash(path_);
  if (!hash || hash == hash_) return;  // gone (not a change by itself), or the same bytes
  hash_ = hash;
  changes_.fetch_add(1, std::memory_order_relaxed);
  try {
    on_change_();
  } catch (const std::exception& e) {
    log().error("config change handler failed error=\"{}\"", e.what());
  }
}

}  // namespace infergate::app
