// ClusterWatcher's contract with its consumer, against a tiny scripted API server on a real
// loopback socket (plain http): first callback synced with the listed objects, watch events
// applied, 404 = synced and empty, unwatch (from another thread or from inside a callback) stops
// callbacks at once, a throwing callback does not stop the watcher, stop() with open watches.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "infergate/k8s/client.hpp"

using namespace infergate::k8s;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::string pod_json(const std::string& name, int rv) {
  return R"({"kind":"Pod","metadata":{"name":")" + name + R"(","namespace":"ns","resourceVersion":")" +
         std::to_string(rv) + R"("}})";
}

// Lists answer `list_body` (or 404 when `absent`); watches get a chunked 200 and stay open;
// push() sends one event line to every open watch.
class ScriptedServer {
 public:
  ScriptedServer() : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedServer() {
    net::post(io_, [this] {
      acceptor_.close();
      for (auto& s : watches_) s->close();
    });
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  void set_list(std::string body) {
    std::lock_guard lock(mutex_);
    list_body_ = std::move(body);
  }
  void set_absent(bool absent) { absent_ = absent; }
  void push(const std::string& line) {
    net::post(io_, [this, line] {
      std::string chunk = to_hex(line.size() + 1) + "\r\n" + line + "\n\r\n";
      for (auto& s : watches_) write(s, chunk);
    });
  }
  // Waits (bounded) until `n` watches are open.
  bool wait_watches(std::size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 5s, [&] { return open_watches_ >= n; });
  }

 private:
  static std::string to_hex(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return buf;
  }
  void write(std::shared_ptr<tcp::socket> s, std::string data) {
    auto owned = std::make_shared<std::string>(std::move(data));
    net::async_write(*s, net::buffer(*owned), [s, owned](auto, auto) {});
  }
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      serve(std::make_shared<tcp::socket>(std::move(socket)));
      accept();
    });
  }
  void serve(std::shared_ptr<tcp::socket> s) {
    auto buf = std::make_shared<net::streambuf>();
    net::async_read_until(*s, *buf, "\r\n\r\n", [this, s, buf](boost::system::error_code ec,
                                                                std::size_t head_size) {
      if (ec) return;
      std::string head{net::buffers_begin(buf->data()), net::buffers_begin(buf->data()) + head_size};
      if (head.starts_with("PATCH ")) {
        buf->consume(head_size);
        auto length_at = head.find("Content-Length: ");
        std::size_t length = length_at == std::string::npos ? 0 : std::stoul(head.substr(length_at + 16));
        std::size_t missing = length > buf->size() ? length - buf->size() : 0;
        net::async_read(*s, *buf, net::transfer_exactly(missing),
                        [this, s, buf, head, length](boost::system::error_code rec, std::size_t) {
                          if (rec) return;
                          std::string body{net::buffers_begin(buf->data()),
                                           net::buffers_begin(buf->data()) + length};
                          answer_patch(s, head, body);
                        });
        return;
      }
      if (absent_) {
        write(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
      } else if (head.find("watch=1") != std::string::npos) {
        write(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        watches_.push_back(s);
        std::lock_guard lock(mutex_);
        ++open_watches_;
        cv_.notify_all();
      } else {
        std::string body;
        {
          std::lock_guard lock(mutex_);
          body = list_body_;
        }
        write(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      }
    });
  }

  void answer_patch(std::shared_ptr<tcp::socket> s, const std::string& head, const std::string& body) {
    {
      std::lock_guard lock(mutex_);
      patches.push_back(head.substr(0, head.find("\r\n")) + "\n" +
                        (head.find("application/merge-patch+json") != std::string::npos ? "merge" : "?") +
                        "\n" + body);
    }
    if (head.find("/forbidden/") != std::string::npos) {
      std::string status = R"({"kind":"Status","code":403,"reason":"Forbidden","message":"no"})";
      write(s, "HTTP/1.1 403 Forbidden\r\nContent-Length: " + std::to_string(status.size()) +
                   "\r\nConnection: close\r\n\r\n" + status);
    } else {
      write(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    }
  }

 public:
  std::vector<std::string> patches;  // "request line\nmerge\nbody", under mutex_
  std::vector<std::string> taken_patches() {
    std::lock_guard lock(mutex_);
    return patches;
  }

 private:
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::shared_ptr<tcp::socket>> watches_;  // io thread only
  std::atomic<bool> absent_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string list_body_ = R"({"metadata":{"resourceVersion":"10"},"items":[)" + pod_json("a", 5) +
                           "," + pod_json("b", 6) + "]}";
  std::size_t open_watches_ = 0;
};

// Collects callbacks and lets the test wait for one that satisfies a predicate.
struct Recorder {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::set<std::string>, bool>> calls;

  ChangeCallback callback() {
    return [this](const ObjectMap& objects, bool synced) {
      std::set<std::string> keys;
      for (const auto& [key, json] : objects) keys.insert(key);
      std::lock_guard lock(mutex);
      calls.emplace_back(std::move(keys), synced);
      cv.notify_all();
    };
  }
  bool wait(const std::function<bool(const std::set<std::string>&, bool)>& pred) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, 5s, [&] {
      return !calls.empty() && pred(calls.back().first, calls.back().second);
    });
  }
  bool first_synced() {
    std::lock_guard lock(mutex);
    return !calls.empty() && calls.front().second;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return calls.size();
  }
};

ClusterAccess access_to(const ScriptedServer& server) {
  ClusterAccess access;
  access.server = server.url();
  access.token = "t";
  return access;
}

WatchTuning fast() {
  WatchTuning tuning;
  tuning.backoff_initial = 20ms;
  tuning.backoff_max = 100ms;
  tuning.absent_recheck = 50ms;
  return tuning;
}

const ResourceKind kPods{"", "v1", "pods"};

}  // namespace

TEST_CASE("first callback is synced with the listed objects; events are applied") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  Recorder recorder;
  auto id = watcher.watch(kPods, {}, recorder.callback());
  CHECK(watcher.state(id) == SourceState::starting);
  watcher.start();
  REQUIRE(recorder.wait([](auto& keys, bool synced) { return synced && keys == std::set<std::string>{"ns/a", "ns/b"}; }));
  CHECK(recorder.first_synced());  // never an unsynced partial list
  REQUIRE(server.wait_watches(1));
  CHECK(watcher.state(id) == SourceState::synced);
  server.push(R"({"type":"ADDED","object":)" + pod_json("c", 11) + "}");
  server.push(R"({"type":"DELETED","object":)" + pod_json("a", 12) + "}");
  REQUIRE(recorder.wait([](auto& keys, bool) { return keys == std::set<std::string>{"ns/b", "ns/c"}; }));
  auto counters = watcher.counters();
  CHECK(counters.lists == 1);
  CHECK(counters.events == 2);
  CHECK(counters.watches >= 1);
  watcher.stop();  // with a watch open
  watcher.stop();  // idempotent
}

TEST_CASE("kept fields: a change to any other field calls nobody back") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  Recorder recorder;
  WatchScope scope;
  scope.keep_fields = {"/metadata/name", "/metadata/namespace", "/metadata/labels"};
  watcher.watch(kPods, scope, recorder.callback());
  watcher.start();
  REQUIRE(recorder.wait([](auto& keys, bool synced) { return synced && keys.size() == 2; }));
  REQUIRE(server.wait_watches(1));
  const auto events_seen = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (watcher.counters().events < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return watcher.counters().events >= n;
  };
  // Only its resourceVersion moves: applied, and no callback.
  server.push(R"({"type":"MODIFIED","object":)" + pod_json("a", 20) + "}");
  REQUIRE(events_seen(1));
  // A label is a kept field: a callback.
  server.push(R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"ns","resourceVersion":"21","labels":{"app":"x"}}}})");
  REQUIRE(events_seen(2));
  server.push(R"({"type":"ADDED","object":)" + pod_json("c", 22) + "}");
  REQUIRE(recorder.wait([](auto& keys, bool) { return keys.count("ns/c") == 1; }));
  CHECK(recorder.count() == 3);  // the list, the label, the new pod
  watcher.stop();
}

TEST_CASE("read() hands over the current objects from any thread; unknown ids read nothing") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  Recorder recorder;
  const auto id = watcher.watch(kPods, {}, recorder.callback());
  const auto keys_read = [&] {
    std::set<std::string> keys;
    bool synced = false;
    watcher.read(id, [&](const ObjectMap& objects, bool s) {
      for (const auto& [key, json] : objects) keys.insert(key);
      synced = s;
    });
    return std::make_pair(keys, synced);
  };
  CHECK(keys_read() == std::make_pair(std::set<std::string>{}, false));  // not listed yet
  watcher.start();
  REQUIRE(recorder.wait([](auto& keys, bool synced) { return synced && keys.size() == 2; }));
  CHECK(keys_read() == std::make_pair(std::set<std::string>{"ns/a", "ns/b"}, true));
  REQUIRE(server.wait_watches(1));
  server.push(R"({"type":"DELETED","object":)" + pod_json("a", 30) + "}");
  REQUIRE(recorder.wait([](auto& keys, bool) { return keys == std::set<std::string>{"ns/b"}; }));
  CHECK(keys_read().first == std::set<std::string>{"ns/b"});
  bool called = false;
  watcher.read(id + 100, [&](const ObjectMap&, bool) { called = true; });
  CHECK_FALSE(called);
  watcher.unwatch(id);
  watcher.read(id, [&](const ObjectMap&, bool) { called = true; });
  CHECK_FALSE(called);
  watcher.stop();
}

TEST_CASE("a resource that is absent (404) is synced and empty") {
  ScriptedServer server;
  server.set_absent(true);
  ClusterWatcher watcher(access_to(server), fast());
  Recorder recorder;
  auto id = watcher.watch(kPods, {}, recorder.callback());
  watcher.start();
  REQUIRE(recorder.wait([](auto& keys, bool synced) { return synced && keys.empty(); }));
  CHECK(watcher.state(id) == SourceState::absent);
  server.set_absent(false);  // installed later: found on the next recheck
  REQUIRE(recorder.wait([](auto& keys, bool) { return keys.size() == 2; }));
  CHECK(watcher.state(id) == SourceState::synced);
}

TEST_CASE("unwatch from another thread: no callback after it returns") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  Recorder recorder;
  auto id = watcher.watch(kPods, {}, recorder.callback());
  watcher.start();
  REQUIRE(recorder.wait([](auto& keys, bool) { return keys.size() == 2; }));
  REQUIRE(server.wait_watches(1));
  watcher.unwatch(id);
  std::size_t before = recorder.count();
  // A second reflector proves events still flow; the removed one must stay silent.
  Recorder other;
  watcher.watch(kPods, {}, other.callback());
  REQUIRE(other.wait([](auto& keys, bool) { return keys.size() == 2; }));
  REQUIRE(server.wait_watches(2));
  server.push(R"({"type":"ADDED","object":)" + pod_json("z", 20) + "}");
  REQUIRE(other.wait([](auto& keys, bool) { return keys.count("ns/z") == 1; }));
  CHECK(recorder.count() == before);
  watcher.unwatch(id);  // twice, and unknown ids, are ignored
  watcher.unwatch(12345);
}

TEST_CASE("unwatch from inside a callback, and a callback that throws") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  std::atomic<int> calls{0};
  std::atomic<ClusterWatcher::Id> id{0};
  id = watcher.watch(kPods, {}, [&](const ObjectMap&, bool) {
    ++calls;
    watcher.unwatch(id);
    throw std::runtime_error("consumer bug");
  });
  Recorder witness;
  watcher.watch(kPods, {}, witness.callback());
  watcher.start();
  REQUIRE(witness.wait([](auto& keys, bool) { return keys.size() == 2; }));
  REQUIRE(server.wait_watches(1));
  server.push(R"({"type":"ADDED","object":)" + pod_json("y", 30) + "}");
  REQUIRE(witness.wait([](auto& keys, bool) { return keys.count("ns/y") == 1; }));
  CHECK(calls == 1);
}

TEST_CASE("status writes are merge patches of the status subresource") {
  ScriptedServer server;
  ClusterWatcher watcher(access_to(server), fast());
  watcher.start();
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<int, std::string>> results;
  auto done = [&](int status, const std::string& message) {
    std::lock_guard lock(mutex);
    results.emplace_back(status, message);
    cv.notify_all();
  };
  const ResourceKind routes{"gateway.networking.k8s.io", "v1", "httproutes"};
  watcher.patch_status(routes, "team-a", "chat", R"({"status":{"parents":[]}})", done);
  watcher.patch_status(routes, "team-a", "forbidden", R"({"status":{}})", done);
  std::unique_lock lock(mutex);
  REQUIRE(cv.wait_for(lock, 5s, [&] { return results.size() == 2; }));
  std::sort(results.begin(), results.end());
  CHECK(results[0] == std::pair<int, std::string>{200, ""});
  CHECK(results[1] == std::pair<int, std::string>{403, "no"});
  auto patches = server.taken_patches();
  std::sort(patches.begin(), patches.end());
  REQUIRE(patches.size() == 2);
  CHECK(patches[0] ==
        "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/team-a/httproutes/chat/status HTTP/1.1\n"
        "merge\n"
        R"({"status":{"parents":[]}})");
}
