// ClusterWatcher: one thread and event loop; each reflector is one coroutine doing client-go's
// list-then-watch loop over the Transport, keeping its objects in a map it hands to its callback.
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infergate/k8s/client.hpp"
#include "k8s/backoff.hpp"
#include "k8s/log.hpp"
#include "k8s/resource_path.hpp"
#include "k8s/transport.hpp"
#include "k8s/watch_events.hpp"

namespace infergate::k8s {
namespace {

namespace net = boost::asio;
using namespace detail;
using std::chrono::milliseconds;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr int kMaxContinueRestarts = 3;  // a list whose continue token keeps expiring: back off
constexpr auto kShortWatch = std::chrono::seconds(1);

struct Reflector {
  Reflector(net::io_context& io, ClusterWatcher::Id id_, ResourceKind kind_, WatchScope scope_,
            ChangeCallback on_change_, const WatchTuning& tuning, std::uint64_t seed)
      : id(id_),
        kind(std::move(kind_)),
        scope(std::move(scope_)),
        on_change(std::move(on_change_)),
        name(kind.display() +
             (scope.namespace_name.empty() ? "" : " ns=" + scope.namespace_name)),
        decoder(scope.keep_fields),
        backoff(tuning.backoff_initial, tuning.backoff_max, seed),
        timer(io) {}

  const ClusterWatcher::Id id;
  const ResourceKind kind;
  const WatchScope scope;
  const ChangeCallback on_change;
  const std::string name;  // for logs
  std::atomic<bool> removed{false};
  std::atomic<SourceState> state{SourceState::starting};

  // Only the watcher's thread changes these, holding `objects_mutex` while it does; read() takes
  // it from other threads.
  mutable std::mutex objects_mutex;
  ObjectMap objects;
  bool synced = false;
  // Only the watcher's thread touches these.
  bool listed_once = false;
  std::string resource_version;
  Decoder decoder;
  LineSplitter splitter;
  Backoff backoff;
  net::steady_timer timer;
};

enum class ListResult { ok, absent, failed };

}  // namespace

struct ClusterWatcher::Impl {
  Impl(ClusterAccess access, WatchTuning t)
      : transport(std::move(access)), tuning(t), rng(std::random_device{}()),
        seeds(std::random_device{}()) {}
  // The thread is joined (stop()). Reflectors own timers, which must go before the io_context;
  // the coroutine frames still holding them are destroyed with the io_context, last.
  ~Impl() { reflectors.clear(); }

  // First: destroyed last, after everything that registers with it.
  net::io_context io{1};

  Transport transport;
  const WatchTuning tuning;
  std::mt19937_64 rng;    // watch time limits; watcher thread only
  std::mt19937_64 seeds;  // backoff seeds of new reflectors; under `mutex`

  mutable std::mutex mutex;  // reflectors, next_id
  std::map<Id, std::shared_ptr<Reflector>> reflectors;
  Id next_id = 1;
  std::mutex callback_mutex;  // held while a callback runs: unwatch() waits on it

  struct {
    std::atomic<std::uint64_t> lists{0}, relists{0}, watches{0}, events{0}, bookmarks{0}, gone{0},
        errors{0};
  } count;

  std::mutex lifecycle_mutex;
  bool started = false, stopped = false;
  std::thread thread;
  std::atomic<std::thread::id> thread_id{};
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};

  bool on_watcher_thread() const { return std::this_thread::get_id() == thread_id.load(); }

  void deliver(Reflector& r) {
    std::lock_guard lock(callback_mutex);
    if (r.removed) return;
    try {
      r.on_change(r.objects, r.synced);
    } catch (const std::exception& e) {
      log().error("change callback failed resource={} error={}", r.name, e.what());
    }
  }

  net::awaitable<void> sleep(Reflector& r, milliseconds wait) {
    r.timer.expires_after(wait);
    auto [ec] = co_await r.timer.async_wait(kTuple);
    (void)ec;
  }

  // A request that did not succeed: log what it means and set the state.
  void report_failure(Reflector& r, const char* verb, const HttpReply& reply) {
    count.errors.fetch_add(1, std::memory_order_relaxed);
    if (reply.status == 0) {
      r.state = SourceState::failing;
      log().warn("{} failed resource={} error={}", verb, r.name, reply.error);
      return;
    }
    StatusInfo status = r.decoder.decode_status(reply.body);
    if (reply.status == 401) {
      r.state = SourceState::denied;
      log().error("{} unauthorized (401) resource={}: the API server rejected the credentials{}{}",
                  verb, r.name,
                  transport.token().from_file() ? "; token file=" : "",
                  transport.token().file());
    } else if (reply.status == 403) {
      r.state = SourceState::denied;
      log().error(
          "{} forbidden (403) resource={}: RBAC must allow verb={} on resource={} "
          "apiGroup=\"{}\"{} message=\"{}\"",
          verb, r.name, verb, r.kind.plural, r.kind.group,
          r.scope.namespace_name.empty() ? " (cluster-wide: a ClusterRole)"
                                         : " in namespace=" + r.scope.namespace_name,
          status.message);
    } else {
      r.state = SourceState::failing;
      log().warn("{} failed resource={} status={} reason={} message=\"{}\"", verb, r.name,
                 reply.status, status.reason, status.message);
    }
  }

  void mark_absent(Reflector& r) {
    if (r.state != SourceState::absent)
      log().info("resource={} not found (404: CRD not installed?): source disabled, looking again "
                 "every {} ms", r.name, tuning.absent_recheck.count());
    r.state = SourceState::absent;
    bool changed = !r.synced || !r.objects.empty();
    ObjectMap gone;
    {
      std::lock_guard lock(r.objects_mutex);
      gone.swap(r.objects);  // freed below, outside the lock
      r.synced = true;
    }
    r.resource_version.clear();
    if (changed) deliver(r);
  }

  net::awaitable<ListResult> list(Reflector& r) {
    ObjectMap fresh;
    std::string continue_token;
    int restarts = 0;
    for (;;) {
      std::string target = list_target(r.kind, r.scope, tuning.page_size, continue_token);
      auto requesting = transport.request("GET", target, {}, {}, tuning.request_timeout);
      HttpReply reply = co_await std::move(requesting);
      if (r.removed) co_return ListResult::failed;
      if (reply.status == 410 && !continue_token.empty() && ++restarts <= kMaxContinueRestarts) {
        // The continue token expired between pages: start the list again from the beginning.
        count.gone.fetch_add(1, std::memory_order_relaxed);
        log().info("list resource={}: continue token expired (410), listing again", r.name);
        fresh.clear();
        continue_token.clear();
        continue;
      }
      if (reply.status == 404) {
        mark_absent(r);
        co_return ListResult::absent;
      }
      if (reply.status != 200) {
        report_failure(r, "list", reply);
        co_return ListResult::failed;
      }
      ListPage page;
      std::string error;
      if (!r.decoder.decode_list(reply.body, page, error)) {
        count.errors.fetch_add(1, std::memory_order_relaxed);
        r.state = SourceState::failing;
        log().warn("list resource={}: {}", r.name, error);
        co_return ListResult::failed;
      }
      count.lists.fetch_add(1, std::memory_order_relaxed);
      for (auto& [key, json] : page.items) fresh.insert_or_assign(std::move(key), std::move(json));
      if (!page.continue_token.empty()) {
        continue_token = std::move(page.continue_token);
        continue;
      }
      if (r.state == SourceState::absent) log().info("resource={} found: source enabled", r.name);
      if (r.listed_once) count.relists.fetch_add(1, std::memory_order_relaxed);
      r.listed_once = true;
      bool changed = !r.synced || fresh != r.objects;
      {
        std::lock_guard lock(r.objects_mutex);
        r.objects.swap(fresh);  // the old objects are freed with `fresh`, outside the lock
        r.synced = true;
      }
      r.resource_version = std::move(page.resource_version);
      r.state = SourceState::synced;
      SPDLOG_LOGGER_DEBUG(&log(), "listed resource={} objects={} resourceVersion={}", r.name,
                          r.objects.size(), r.resource_version);
      if (changed) deliver(r);
      co_return ListResult::ok;
    }
  }

  // What one watch stream brought.
  struct StreamOutcome {
    bool relist = false;       // 410 in an ERROR event
    bool error_event = false;  // another ERROR event
    bool broken = false;       // a line that is not an event, or too long
    bool any_event = false;
    std::string message;
  };

  // Applies one watch line; returns true when the object set changed.
  bool apply_line(Reflector& r, std::string_view line, StreamOutcome& out) {
    WatchEvent event;
    std::string error;
    if (!r.decoder.decode_event(line, event, error)) {
      out.broken = true;
      out.message = error;
      return false;
    }
    out.any_event = true;
    switch (event.type) {
      case EventType::added:
      case EventType::modified: {
        count.events.fetch_add(1, std::memory_order_relaxed);
        if (!event.resource_version.empty()) r.resource_version = event.resource_version;
        const auto it = r.objects.find(event.key);
        if (it != r.objects.end() && it->second == event.object_json) return false;
        std::lock_guard lock(r.objects_mutex);
        if (it == r.objects.end()) {
          r.objects.emplace(std::move(event.key), std::move(event.object_json));
        } else {
          it->second.swap(event.object_json);  // the old JSON is freed with the event
        }
        return true;
      }
      case EventType::deleted:
        count.events.fetch_add(1, std::memory_order_relaxed);
        if (!event.resource_version.empty()) r.resource_version = event.resource_version;
        {
          const auto it = r.objects.find(event.key);
          if (it == r.objects.end()) return false;
          std::lock_guard lock(r.objects_mutex);
          r.objects.erase(it);
        }
        return true;
      case EventType::bookmark:
        count.bookmarks.fetch_add(1, std::memory_order_relaxed);
        if (!event.resource_version.empty()) r.resource_version = event.resource_version;
        return false;
      case EventType::error:
        if (event.code == 410) out.relist = true;
        else out.error_event = true;
        out.message = event.message;
        return false;
    }
    return false;
  }

  // Watches from the reflector's resourceVersion until a relist is needed (returns) or the
  // reflector is removed. Ends of streams and drops resume from the last resourceVersion seen.
  net::awaitable<void> watch_loop(Reflector& r) {
    while (!r.removed) {
      std::uniform_int_distribution<std::int64_t> pick(tuning.watch_timeout_min.count(),
                                                       std::max(tuning.watch_timeout_min,
                                                                tuning.watch_timeout_max).count());
      std::chrono::seconds timeout(pick(rng));
      std::string target = watch_target(r.kind, r.scope, r.resource_version, timeout);
      StreamOutcome out;
      r.splitter.reset();
      std::function<bool(std::string_view)> on_data = [this, &r, &out](std::string_view data) {
        bool changed = false;
        bool fits = r.splitter.feed(data, [&](std::string_view line) {
          if (!out.relist && !out.error_event && !out.broken) changed |= apply_line(r, line, out);
        });
        if (!fits) {
          out.broken = true;
          out.message = "watch line too long";
        }
        if (changed) deliver(r);
        return !r.removed && !out.relist && !out.error_event && !out.broken;
      };
      count.watches.fetch_add(1, std::memory_order_relaxed);
      const auto started = std::chrono::steady_clock::now();
      auto streaming = transport.stream(target, on_data, tuning.request_timeout,
                                        tuning.watch_idle_timeout,
                                        timeout + std::chrono::seconds(30));
      HttpReply reply = co_await std::move(streaming);
      if (r.removed) co_return;

      if (out.relist || reply.status == 410) {
        count.gone.fetch_add(1, std::memory_order_relaxed);
        log().info("watch resource={} resourceVersion={} expired (410{}), relisting", r.name,
                   r.resource_version, out.relist ? " event" : "");
        co_return;
      }
      if (reply.status == 404) co_return;  // the resource went away: the list will say so
      if (reply.status != 200 && reply.status != 0) {
        report_failure(r, "watch", reply);
        auto waiting = sleep(r, r.backoff.next());
        co_await std::move(waiting);
        continue;
      }
      if (out.error_event) {
        count.errors.fetch_add(1, std::memory_order_relaxed);
        log().warn("watch resource={} error event: {}; relisting", r.name, out.message);
        auto waiting = sleep(r, r.backoff.next());
        co_await std::move(waiting);
        co_return;
      }
      if (out.any_event) r.backoff.reset();
      if (reply.complete && !out.broken) {
        SPDLOG_LOGGER_DEBUG(&log(), "watch resource={} ended, resuming from resourceVersion={}",
                            r.name, r.resource_version);
        // A server (or proxy) that ends every watch at once would make this loop spin: a watch
        // that ended in under a second without a single event waits like an error (client-go
        // does the same for "very short watches").
        if (!out.any_event && std::chrono::steady_clock::now() - started < kShortWatch) {
          auto waiting = sleep(r, r.backoff.next());
          co_await std::move(waiting);
        }
        continue;
      }
      count.errors.fetch_add(1, std::memory_order_relaxed);
      if (reply.status == 0 && !out.any_event) r.state = SourceState::failing;
      log().info("watch resource={} dropped ({}), resuming from resourceVersion={}", r.name,
                 out.broken ? out.message : reply.error, r.resource_version);
      auto waiting = sleep(r, r.backoff.next());
      co_await std::move(waiting);
      if (r.state == SourceState::failing) r.state = SourceState::synced;
    }
  }

  net::awaitable<void> run(std::shared_ptr<Reflector> r) {
    while (!r->removed) {
      auto listing = list(*r);
      ListResult result = co_await std::move(listing);
      if (r->removed) break;
      if (result == ListResult::ok) {
        r->backoff.reset();
        auto watching = watch_loop(*r);
        co_await std::move(watching);
      } else if (result == ListResult::absent) {
        auto waiting = sleep(*r, tuning.absent_recheck);
        co_await std::move(waiting);
      } else {
        auto waiting = sleep(*r, r->backoff.next());
        co_await std::move(waiting);
      }
    }
  }

  net::awaitable<void> patch_status(ResourceKind kind, std::string ns, std::string name,
                                    std::string patch, PatchDone done) {
    std::string target = object_path(kind, ns, name, "status");
    auto requesting = transport.request("PATCH", target, std::move(patch),
                                        "application/merge-patch+json", tuning.request_timeout);
    HttpReply reply = co_await std::move(requesting);
    std::string message = reply.error;
    if (reply.status != 200) {
      count.errors.fetch_add(1, std::memory_order_relaxed);
      Decoder decoder;
      if (reply.status != 0) message = decoder.decode_status(reply.body).message;
      std::string object = kind.display() + " " + object_key(ns, name);
      if (reply.status == 403)
        log().error("status write forbidden (403) object={}: RBAC must allow verb=patch on "
                    "resource={}/status apiGroup=\"{}\" message=\"{}\"",
                    object, kind.plural, kind.group, message);
      else
        log().warn("status write failed object={} status={} message=\"{}\"", object, reply.status,
                   message);
    }
    if (done) {
      try {
        done(reply.status, message);
      } catch (const std::exception& e) {
        log().error("status write callback failed: {}", e.what());
      }
    }
  }

  void spawn(std::shared_ptr<Reflector> r) {
    std::string name = r->name;
    net::co_spawn(io, run(std::move(r)), [name](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log().error("reflector resource={} stopped: {}", name, e.what());
      }
    });
  }
};

ClusterWatcher::ClusterWatcher(ClusterAccess access, WatchTuning tuning)
    : impl_(std::make_unique<Impl>(std::move(access), tuning)) {}

ClusterWatcher::~ClusterWatcher() { stop(); }

ClusterWatcher::Id ClusterWatcher::watch(ResourceKind kind, WatchScope scope,
                                         ChangeCallback on_change) {
  std::shared_ptr<Reflector> r;
  {
    std::lock_guard lock(impl_->mutex);
    Id id = impl_->next_id++;
    r = std::make_shared<Reflector>(impl_->io, id, std::move(kind), std::move(scope),
                                    std::move(on_change), impl_->tuning, impl_->seeds());
    impl_->reflectors.emplace(id, r);
  }
  Id id = r->id;
  impl_->spawn(std::move(r));
  return id;
}

void ClusterWatcher::unwatch(Id id) {
  std::shared_ptr<Reflector> r;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->reflectors.find(id);
    if (it == impl_->reflectors.end()) return;
    r = it->second;
    impl_->reflectors.erase(it);
  }
  r->removed = true;
  if (!impl_->on_watcher_thread()) {
    std::lock_guard wait_for_callback(impl_->callback_mutex);
  }
  // Wake it if it sleeps; a stream in progress stops at its next byte or timeout.
  net::post(impl_->io, [r] { r->timer.cancel(); });
}

void ClusterWatcher::patch_status(const ResourceKind& kind, const std::string& namespace_name,
                                  const std::string& name, std::string merge_patch,
                                  PatchDone done) {
  net::co_spawn(impl_->io,
                impl_->patch_status(kind, namespace_name, name, std::move(merge_patch),
                                    std::move(done)),
                [](std::exception_ptr error) {
                  if (!error) return;
                  try {
                    std::rethrow_exception(error);
                  } catch (const std::exception& e) {
                    log().error("status write stopped: {}", e.what());
                  }
                });
}

void ClusterWatcher::start() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->thread_id = std::this_thread::get_id();
    impl->io.run();
  });
}

void ClusterWatcher::stop() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  {
    std::lock_guard reflectors_lock(impl_->mutex);
    for (auto& [id, r] : impl_->reflectors) r->removed = true;
  }
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ClusterWatcher::read(Id id,
                          const std::function<void(const ObjectMap&, bool)>& reader) const {
  std::shared_ptr<Reflector> r;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->reflectors.find(id);
    if (it == impl_->reflectors.end()) return;
    r = it->second;
  }
  std::lock_guard lock(r->objects_mutex);
  reader(r->objects, r->synced);
}

SourceState ClusterWatcher::state(Id id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->reflectors.find(id);
  return it == impl_->reflectors.end() ? SourceState::starting : it->second->state.load();
}

WatchCounters ClusterWatcher::counters() const {
  auto& c = impl_->count;
  auto get = [](const std::atomic<std::uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  return WatchCounters{get(c.lists), get(c.relists), get(c.watches), get(c.events),
                       get(c.bookmarks), get(c.gone), get(c.errors),
                       impl_->transport.token().reloads()};
}

const ClusterAccess& ClusterWatcher::access() const { return impl_->transport.access(); }

}  // namespace infergate::k8s
