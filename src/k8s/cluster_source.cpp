// ClusterSource: watchers -> ClusterState -> translate -> merge with the file -> apply.
// Threads: the ClusterWatcher's thread only copies an object set and posts; everything else runs
// on this source's own thread (one io_context): the debounce timer, rebuilds, /v1/models probes
// and the resync timer. The mutex guards what other threads read or write (object sets, the file
// table, the rendered page).
#include "infergate/k8s/cluster_source.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "infergate/k8s/translate.hpp"
#include "k8s/log.hpp"
#include "k8s/models_probe.hpp"
#include "k8s/translate_decode.hpp"

namespace infergate::k8s {
namespace {

namespace net = boost::asio;
using detail::log;
using std::chrono::milliseconds;

constexpr milliseconds kProbeTimeout{2'000};
constexpr milliseconds kProbeRetryFirst{500};
constexpr std::string_view kController = "infergate.dev/gateway";  // controllerName in route status
constexpr std::size_t kProbesAtOnce = 32;  // a resync of a large pool must not open 1000 sockets at once
constexpr milliseconds kProbeQueueWait{100};

// What the source watches; the older versions of a group are read beside the newer one (a CRD
// serving both versions shows the same object twice: the newer version's copy wins).
enum Resource : std::size_t {
  kPools, kPoolsV1alpha2, kPoolsV1alpha1, kPods, kRoutes, kGrants, kModelsV1alpha2, kModelsV1alpha1,
  kObjectives, kResourceCount
};

ResourceKind kind_of(Resource r) {
  switch (r) {
    case kPools: return {"inference.networking.k8s.io", "v1", "inferencepools"};
    case kPoolsV1alpha2: return {"inference.networking.x-k8s.io", "v1alpha2", "inferencepools"};
    case kPoolsV1alpha1: return {"inference.networking.x-k8s.io", "v1alpha1", "inferencepools"};
    case kPods: return {"", "v1", "pods"};
    case kRoutes: return {"gateway.networking.k8s.io", "v1", "httproutes"};
    case kGrants: return {"gateway.networking.k8s.io", "v1beta1", "referencegrants"};
    case kModelsV1alpha2: return {"inference.networking.x-k8s.io", "v1alpha2", "inferencemodels"};
    case kModelsV1alpha1: return {"inference.networking.x-k8s.io", "v1alpha1", "inferencemodels"};
    default: return {"inference.networking.x-k8s.io", "v1alpha2", "inferenceobjectives"};
  }
}

struct Slot {
  Resource resource = kPools;
  ResourceKind kind;
  std::string ns;  // empty: all namespaces
  ClusterWatcher::Id id = 0;
  bool synced = false;  // its objects are read from the watcher at each rebuild
};

void add_all(ObjectSet& into, const ObjectMap& from) {
  for (const auto& [key, json] : from) into.emplace(key, json);  // the first copy of a key wins
}

// The objects of one namespace: the keys "ns/..." are one run of the sorted map.
void add_namespace(ObjectSet& into, const ObjectMap& from, const std::string& ns) {
  const std::string prefix = ns + "/";
  for (auto it = from.lower_bound(prefix); it != from.end() && it->first.starts_with(prefix); ++it) {
    into.emplace(it->first, it->second);
  }
}

}  // namespace

struct ClusterSource::Impl {
  Impl(ClusterAccess access_in, GatewayConfig file_in, Apply apply_in, WatchTuning tuning)
      : k(file_in.kubernetes),
        apply(std::move(apply_in)),
        watcher(access_in, with_recheck(tuning, file_in.kubernetes.crd_recheck)),
        file(std::move(file_in)) {
    options.gateway_name = k.gateway_name;
    options.gateway_namespace = k.gateway_namespace.empty() ? access_in.default_namespace : k.gateway_namespace;
    options.pool_defaults = k.pool_defaults;
  }

  static WatchTuning with_recheck(WatchTuning t, milliseconds recheck) {
    t.absent_recheck = recheck;
    return t;
  }

  KubernetesConfig k;
  TranslateOptions options;
  Apply apply;
  ClusterWatcher watcher;
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  bool started = false;
  bool stopped = false;

  // What /debug/routes and the readiness gate show: set once a table is in use, from the thread
  // that put it in use (shared: that thread may run the last callback after this source is gone).
  struct Published {
    std::mutex mutex;
    std::string routes_page;   // routes_debug_json of the table in use
    bool applied_once = false;
  };
  const std::shared_ptr<Published> published = std::make_shared<Published>();

  mutable std::mutex mutex;  // slots' flags, file, counters below
  std::vector<Slot> slots;
  GatewayConfig file;
  std::uint64_t rebuilds = 0, applies = 0, problems_logged = 0, problems_now = 0;
  double rebuild_seconds = 0;  // spent in rebuild(), summed

  // Source thread only.
  net::steady_timer debounce{io};
  net::steady_timer resync{io};
  bool rebuild_pending = false;
  std::chrono::steady_clock::time_point next_rebuild_at{};  // no rebuild before (kRebuildPause)
  ClusterState last_good;                              // well-formed versions (keep_last_good)
  std::string applied_key;                             // the applied table, rendered without problems
  std::set<std::pair<std::string, std::string>> seen;  // problems already logged
  std::map<std::string, std::vector<HostPort>> probe_targets;          // pool -> endpoints
  std::map<std::string, std::vector<ReportedModel>> reports;           // "ip:port" -> its models
  std::map<std::string, milliseconds> retry_after;                     // failed endpoints
  std::set<std::string> in_flight;
  std::map<std::string, std::string> written;  // "plural ns/name" -> status content last written

  // One reflector per resource and watched namespace (one for all namespaces when none is set).
  void watch_all() {
    std::vector<std::string> namespaces = k.namespaces;
    if (namespaces.empty()) namespaces.push_back("");
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      for (const std::string& ns : namespaces) {
        Slot slot;
        slot.resource = static_cast<Resource>(r);
        slot.kind = kind_of(slot.resource);
        slot.ns = ns;
        slots.push_back(std::move(slot));
      }
    }
    for (std::size_t i = 0; i < slots.size(); ++i) {
      WatchScope scope{slots[i].ns, {}, {}, {}};
      if (slots[i].resource == kPods) scope.keep_fields = decode::kPodFieldsRead;
      slots[i].id = watcher.watch(slots[i].kind, std::move(scope),
                                  [this, i](const ObjectMap&, bool synced) {
                                    {
                                      std::lock_guard lock(mutex);
                                      slots[i].synced = synced;
                                    }
                                    net::post(io, [this] { schedule(); });
                                  });
    }
  }

  // Debounced: changes closer than k.debounce are applied by one rebuild. A rebuild decodes every
  // object it reads (every pod of the pools' namespaces), so on a large cluster it is also spaced
  // after the previous one by kRebuildPause times what that one took: under constant churn
  // rebuilds use at most about a tenth of this thread, and a change waits at most that much longer.
  static constexpr int kRebuildPause = 9;
  void schedule() {
    if (rebuild_pending) return;
    rebuild_pending = true;
    const auto spaced = next_rebuild_at - std::chrono::steady_clock::now();
    debounce.expires_after(std::max<std::chrono::steady_clock::duration>(k.debounce, spaced));
    debounce.async_wait([this](boost::system::error_code ec) {
      rebuild_pending = false;
      if (!ec) rebuild();
    });
  }

  void start_resync() {
    resync.expires_after(k.resync);
    resync.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      reports_stale();
      schedule();
      start_resync();
    });
  }

  // Every probed endpoint is asked again (the answers stay in use until then).
  void reports_stale() {
    for (const auto& [pool, endpoints] : probe_targets) {
      for (const HostPort& e : endpoints) probe(e, true);
    }
  }

  // The objects of every reflector as they are now, copied once per rebuild (not per change).
  // Pods only from namespaces that hold an InferencePool (a pool selects pods of its own
  // namespace): on a large cluster most pods are other workloads, and are neither copied nor
  // decoded. Pods are read last, once every pool's namespace is known; keys are "namespace/name".
  std::optional<ClusterState> snapshot_state(GatewayConfig& file_copy) {
    std::vector<std::pair<Resource, ClusterWatcher::Id>> sources;
    {
      std::lock_guard lock(mutex);
      for (const Slot& s : slots) {
        if (!s.synced) return std::nullopt;
        sources.emplace_back(s.resource, s.id);
      }
      file_copy = file;
    }
    std::stable_partition(sources.begin(), sources.end(),  // the rest in order: first copy wins
                          [](const auto& source) { return source.first != kPods; });
    ClusterState state;
    std::set<std::string, std::less<>> pool_namespaces;
    for (const auto& [resource, id] : sources) {
      if (resource == kPods) {
        watcher.read(id, [&](const ObjectMap& pods, bool) {
          for (const std::string& ns : pool_namespaces) add_namespace(state.pods, pods, ns);
        });
        continue;
      }
      ObjectSet& into = [&]() -> ObjectSet& {
        switch (resource) {
          case kPools: return state.pools;
          case kPoolsV1alpha2: case kPoolsV1alpha1: return state.legacy_pools;
          case kRoutes: return state.http_routes;
          case kGrants: return state.reference_grants;
          case kModelsV1alpha2: case kModelsV1alpha1: return state.inference_models;
          default: return state.inference_objectives;
        }
      }();
      watcher.read(id, [&](const ObjectMap& objects, bool) { add_all(into, objects); });
      if (resource == kPools || resource == kPoolsV1alpha2 || resource == kPoolsV1alpha1) {
        for (const auto& [key, json] : into) pool_namespaces.insert(key.substr(0, key.find('/')));
      }
    }
    return state;
  }

  void rebuild() {
    const auto started = std::chrono::steady_clock::now();
    GatewayConfig file_copy;
    auto state = snapshot_state(file_copy);
    if (!state) return;  // not every resource listed yet: the last good table stays
    build(*state, file_copy);
    const auto ended = std::chrono::steady_clock::now();
    next_rebuild_at = ended + (ended - started) * kRebuildPause;
    std::lock_guard lock(mutex);
    rebuild_seconds += std::chrono::duration<double>(ended - started).count();
  }

  // The table from the cluster's objects merged with the file's; applied when it changed.
  void build(ClusterState& state, const GatewayConfig& file_copy) {
    std::vector<Problem> kept = keep_last_good(state, last_good, options);
    ClusterRoutes routes = translate(state, options);
    if (k.probe_models) {
      remember_probe_targets(routes);
      bool any = false;
      for (const auto& [pool, endpoints] : probe_targets) {
        auto& reported = state.reported[pool];
        for (const HostPort& e : endpoints) {
          const auto it = reports.find(e.str());
          if (it == reports.end()) continue;
          reported.insert(reported.end(), it->second.begin(), it->second.end());
          any = true;
        }
      }
      if (any) routes = translate(state, options);
    }
    std::vector<Problem> problems = std::move(kept);
    problems.insert(problems.end(), routes.problems.begin(), routes.problems.end());
    GatewayConfig table = merge_routes(file_copy, routes, problems);
    log_problems(problems);
    write_statuses(state, routes.routed_pools, problems);
    std::string key = routes_debug_json(table, file_copy, {});
    std::string page = routes_debug_json(table, file_copy, problems);
    const bool changed = key != applied_key;
    {
      std::lock_guard lock(mutex);
      ++rebuilds;
      if (changed) ++applies;
    }
    if (!changed) {  // the table in use stays; only the problems listed may differ
      std::lock_guard lock(published->mutex);
      published->routes_page = std::move(page);
      return;
    }
    applied_key = std::move(key);
    log().info("cluster routes models={} pools={} objectives={} problems={}", routes.models.size(),
               routes.pools.size(), routes.objectives.size(), problems.size());
    // /debug/routes and readiness say what requests get: they change once the table serves them.
    apply(std::move(table), [shown = published, page = std::move(page)]() mutable {
      std::lock_guard lock(shown->mutex);
      shown->routes_page = std::move(page);
      shown->applied_once = true;
    });
  }

  // Accepted / ResolvedRefs on our HTTPRoutes and the InferencePools they route to, written when
  // what they say changes (our own write comes back as a change of the object; its content is then
  // the same, so nothing is written).
  void write_statuses(const ClusterState& state, const std::vector<std::string>& routed_pools,
                      const std::vector<Problem>& problems) {
    const std::string now = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
    std::set<std::string> present;
    for (StatusWrite& w : route_statuses(state, problems, options, kController, now)) {
      write_status(kRoutes, std::move(w), present);
    }
    for (StatusWrite& w : pool_statuses(state, routed_pools, problems, options, now)) {
      write_status(kPools, std::move(w), present);
    }
    std::erase_if(written, [&](const auto& kv) { return !present.contains(kv.first); });
  }

  void write_status(Resource resource, StatusWrite w, std::set<std::string>& present) {
    const ResourceKind kind = kind_of(resource);
    const std::string key = kind.plural + " " + w.ns + "/" + w.name;
    present.insert(key);
    auto& last = written[key];
    if (last == w.content) return;
    last = std::move(w.content);
    watcher.patch_status(kind, w.ns, w.name, std::move(w.patch), [this, key](int status, const std::string& message) {
      if (status == 200) return;
      log().warn("status not written object=\"{}\" status={} error=\"{}\"", key, status, message);
      // A transient failure is tried again at the next rebuild; a refusal (403 without the
      // status-writer RBAC, 404, 422) only when the content changes.
      if (status == 0 || status == 409 || status == 429 || status >= 500) {
        net::post(io, [this, key] { written.erase(key); });
      }
    });
  }

  void log_problems(const std::vector<Problem>& problems) {
    std::set<std::pair<std::string, std::string>> now;
    for (const Problem& p : problems) {
      now.emplace(p.object, p.reason);
      if (!seen.contains({p.object, p.reason})) {
        log().warn("skipped object={} reason=\"{}\"", p.object, p.reason);
        std::lock_guard lock(mutex);
        ++problems_logged;
      }
    }
    seen = std::move(now);
    std::set<std::string> objects;
    for (const Problem& p : problems) objects.insert(p.object);
    std::lock_guard lock(mutex);
    problems_now = objects.size();
  }

  // The endpoints of the pools to probe; answers of endpoints that left are forgotten.
  void remember_probe_targets(const ClusterRoutes& routes) {
    probe_targets.clear();
    std::set<std::string> wanted;
    for (const std::string& name : routes.probe_pools) {
      for (const PoolConfig& pool : routes.pools) {
        if (pool.name != name) continue;
        probe_targets[name] = pool.endpoints;
        for (const HostPort& e : pool.endpoints) {
          wanted.insert(e.str());
          probe(e, false);
        }
      }
    }
    std::erase_if(reports, [&](const auto& kv) { return !wanted.contains(kv.first); });
    std::erase_if(retry_after, [&](const auto& kv) { return !wanted.contains(kv.first); });
  }

  bool wanted(const std::string& endpoint) const {
    for (const auto& [pool, endpoints] : probe_targets) {
      for (const HostPort& e : endpoints) {
        if (e.str() == endpoint) return true;
      }
    }
    return false;
  }

  template <typename Then>
  void after(milliseconds delay, Then then) {
    auto timer = std::make_shared<net::steady_timer>(io, delay);
    timer->async_wait([timer, then = std::move(then)](boost::system::error_code ec) {
      if (!ec) then();
    });
  }

  // Probes `e` unless a probe is under way, or (unless `again`) an answer or a retry is pending.
  void probe(const HostPort& e, bool again) {
    const std::string name = e.str();
    if (in_flight.contains(name)) return;
    if (!again && (reports.contains(name) || retry_after.contains(name))) return;
    if (in_flight.size() >= kProbesAtOnce) {
      after(kProbeQueueWait, [this, e, name, again] {
        if (wanted(name)) probe(e, again);
      });
      return;
    }
    in_flight.insert(name);
    net::co_spawn(io, probe_models(e, kProbeTimeout),
                  [this, e, name](std::exception_ptr error, std::optional<std::vector<ReportedModel>> models) {
                    in_flight.erase(name);
                    if (!error && models) {
                      retry_after.erase(name);
                      auto& slot = reports[name];
                      if (slot != *models) {
                        slot = std::move(*models);
                        schedule();
                      }
                      return;
                    }
                    if (!wanted(name) || reports.contains(name)) return;  // gone, or the last answer stays
                    // Not answering yet (starting): try again soon, backing off up to the resync period.
                    auto& delay = retry_after[name];
                    delay = delay.count() == 0 ? kProbeRetryFirst : std::min(delay * 2, k.resync);
                    after(delay, [this, e, name] {
                      if (wanted(name) && !reports.contains(name)) probe(e, true);
                    });
                  });
  }
};

ClusterSource::ClusterSource(ClusterAccess access, GatewayConfig file, Apply apply, WatchTuning tuning)
    : impl_(std::make_unique<Impl>(std::move(access), std::move(file), std::move(apply), tuning)) {}

ClusterSource::~ClusterSource() { stop(); }

void ClusterSource::start() {
  Impl& m = *impl_;
  if (m.started) return;
  m.started = true;
  m.watch_all();
  m.thread = std::thread([&m] { m.io.run(); });
  net::post(m.io, [&m] { m.start_resync(); });
  m.watcher.start();
}

void ClusterSource::stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  m.watcher.stop();  // no callback after this
  m.work.reset();
  m.io.stop();
  if (m.thread.joinable()) m.thread.join();
}

void ClusterSource::set_file(GatewayConfig file) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mutex);
    m.file = std::move(file);
  }
  net::post(m.io, [&m] { m.schedule(); });
}

ClusterStats ClusterSource::stats() const {
  const Impl& m = *impl_;
  ClusterStats out;
  out.watch = m.watcher.counters();
  std::lock_guard lock(m.mutex);
  out.rebuilds = m.rebuilds;
  out.rebuild_seconds = m.rebuild_seconds;
  out.applies = m.applies;
  out.skipped_objects = m.problems_now;
  {
    std::lock_guard published_lock(m.published->mutex);
    out.applied = m.published->applied_once;
  }
  out.synced = !m.slots.empty();
  for (const Slot& s : m.slots) out.synced = out.synced && s.synced;
  return out;
}

std::string ClusterSource::debug_json() const {
  const Impl& m = *impl_;
  std::string page;
  bool synced = true;
  std::string sources;
  std::uint64_t rebuilds = 0, applies = 0, problems = 0;
  {
    std::lock_guard lock(m.mutex);
    {
      std::lock_guard published_lock(m.published->mutex);
      page = m.published->routes_page;
    }
    if (page.empty()) page = routes_debug_json(m.file, m.file, {});
    for (const Slot& s : m.slots) {
      synced = synced && s.synced;
      fmt::format_to(std::back_inserter(sources), R"({}"{}":"{}")", sources.empty() ? "" : ",",
                     s.kind.display(), to_string(m.watcher.state(s.id)));
    }
    rebuilds = m.rebuilds;
    applies = m.applies;
    problems = m.problems_logged;
  }
  page.pop_back();  // the closing brace: the source's state goes in the same object
  fmt::format_to(std::back_inserter(page),
                 R"(,"kubernetes":{{"synced":{},"rebuilds":{},"applied":{},"problems_logged":{},"sources":{{{}}}}}}})",
                 synced, rebuilds, applies, problems, sources);
  return page;
}

ClusterAccess access_for(const KubernetesConfig& config) {
  if (!config.kubeconfig.empty()) return kubeconfig_access(config.kubeconfig, config.context);
  if (!config.context.empty()) {
    // A context names an entry of the kubeconfig files client-go would read.
    if (std::vector<std::string> list = kubeconfig_env_list(); !list.empty()) {
      return kubeconfig_access(list, config.context);
    }
    const char* home = std::getenv("HOME");
    return kubeconfig_access(std::string(home ? home : "") + "/.kube/config", config.context);
  }
  return default_access();
}

}  // namespace infergate::k8s
