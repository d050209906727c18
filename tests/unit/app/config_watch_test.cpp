// ConfigWatch against real files: the ways a config file changes (in place, renamed over, a
// Kubernetes ConfigMap's `..data` swap), debouncing, and what must not count as a change.
#include "app/config_watch.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

using infergate::app::ConfigWatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/infergate-watch-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);  // in place: the same inode
  out << text;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// on_change() calls, waited for with a condition variable and a bounded timeout; each call
// records the file's content as the handler saw it.
struct Calls {
  fs::path file;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> seen;

  std::function<void()> handler() {
    return [this] {
      const std::string text = read_file(file);
      std::lock_guard lock(mutex);
      seen.push_back(text);
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, limit, [&] { return seen.size() >= n; });
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
};

// Polls the watcher's counters (a readiness check, bounded), for the cases where the right
// outcome is that nothing is called.
template <typename Ready>
bool eventually(Ready ready, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct Fixture {
  TempDir dir;
  fs::path file = dir.path / "gateway.yaml";
  Calls calls;
  Fixture() {
    calls.file = file;
    write_file(file, "listen: 127.0.0.1:8080\n");
  }
};

}  // namespace

TEST_CASE("a write in place gives one call, with the new content") {
  Fixture f;
  ConfigWatch watch(f.file.string(), 50ms, f.calls.handler());
  watch.start();
  write_file(f.file, "listen: 127.0.0.1:8081\n");
  REQUIRE(f.calls.wait_for(1));
  CHECK(f.calls.seen[0] == "listen: 127.0.0.1:8081\n");
}

TEST_CASE("a temporary file renamed over the config gives one call") {
  Fixture f;
  ConfigWatch watch(f.file.string(), 50ms, f.calls.handler());
  watch.start();
  write_file(f.dir.path / ".gateway.yaml.swp", "listen: 127.0.0.1:8082\n");
  fs::rename(f.dir.path / ".gateway.yaml.swp", f.file);
  REQUIRE(f.calls.wait_for(1));
  CHECK(f.calls.seen[0] == "listen: 127.0.0.1:8082\n");
}

TEST_CASE("a ConfigMap update (the ..data symlink swapped) gives one call; the same bytes, none") {
  TempDir dir;
  const auto version = [&](const std::string& stamp, const std::string& text) {
    fs::create_directory(dir.path / stamp);
    write_file(dir.path / stamp / "gateway.yaml", text);
    fs::create_directory_symlink(stamp, dir.path / "..data_tmp");
    fs::rename(dir.path / "..data_tmp", dir.path / "..data");  // atomic, like the kubelet
  };
  version("..2026_12_07_12_00_00.000000001", "a: 1\n");
  fs::create_symlink("..data/gateway.yaml", dir.path / "gateway.yaml");
  Calls calls;
  calls.file = dir.path / "gateway.yaml";
  ConfigWatch watch(calls.file.string(), 50ms, calls.handler());
  watch.start();

  version("..2026_12_07_12_00_01.000000002", "a: 2\n");
  fs::remove_all(dir.path / "..2026_12_07_12_00_00.000000001");
  REQUIRE(calls.wait_for(1));
  CHECK(calls.seen[0] == "a: 2\n");

  const auto checks = watch.stats().checks;
  version("..2026_12_07_12_00_02.000000003", "a: 2\n");
  REQUIRE(eventually([&] { return watch.stats().checks > checks; }));
  CHECK(calls.count() == 1);
}

TEST_CASE("a burst of 10 writes gives one call") {
  Fixture f;
  ConfigWatch watch(f.file.string(), 250ms, f.calls.handler());
  watch.start();
  for (int i = 0; i < 10; ++i) write_file(f.file, "workers: " + std::to_string(i + 1) + "\n");
  REQUIRE(f.calls.wait_for(1));
  // Every event was read before the quiet time ended, so no later look can follow.
  const auto stats = watch.stats();
  CHECK(stats.relevant >= 1);  // the kernel merges identical unread events: fewer than 10
  CHECK(stats.checks == 1);
  CHECK(stats.changes == 1);
  CHECK(f.calls.seen[0] == "workers: 10\n");
}

TEST_CASE("an unrelated file gives no look; a touch gives a look but no call") {
  Fixture f;
  ConfigWatch watch(f.file.string(), 50ms, f.calls.handler());
  watch.start();
  write_file(f.dir.path / "other.yaml", "x: 1\n");  // IN_CREATE, IN_CLOSE_WRITE
  REQUIRE(eventually([&] { return watch.stats().events >= 2; }));
  CHECK(watch.stats().relevant == 0);
  REQUIRE(::utimensat(AT_FDCWD, f.file.c_str(), nullptr, 0) == 0);  // touch
  chmod(f.file.c_str(), 0600);
  REQUIRE(eventually([&] { return watch.stats().checks >= 1; }));
  CHECK(f.calls.count() == 0);
}

TEST_CASE("the file disappearing is no change; coming back changed is one") {
  Fixture f;
  ConfigWatch watch(f.file.string(), 50ms, f.calls.handler());
  watch.start();
  fs::remove(f.file);
  REQUIRE(eventually([&] { return watch.stats().checks >= 1; }));
  write_file(f.file, "listen: 127.0.0.1:8080\n");  // back as it was
  REQUIRE(eventually([&] { return watch.stats().checks >= 2; }));
  CHECK(f.calls.count() == 0);
  fs::remove(f.file);
  REQUIRE(eventually([&] { return watch.stats().checks >= 3; }));
  write_file(f.file, "listen: 127.0.0.1:9999\n");
  REQUIRE(f.calls.wait_for(1));
  CHECK(f.calls.seen[0] == "listen: 127.0.0.1:9999\n");
}

TEST_CASE("a directory that is not there cannot be watched") {
  CHECK_THROWS_AS(ConfigWatch("/nonexistent-dir/gateway.yaml", 50ms, [] {}), std::runtime_error);
}

TEST_CASE("stopping before any event, and without start()") {
  Fixture f;
  { ConfigWatch idle(f.file.string(), 50ms, f.calls.handler()); }
  ConfigWatch watch(f.file.string(), 50ms, f.calls.handler());
  watch.start();
}
