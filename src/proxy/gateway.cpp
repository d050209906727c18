// Wiring of the process: one worker per core, the admin listener and signals on the control
// thread (the caller's), and the drain.
#include "proxy/gateway.hpp"
#include "proxy/tls.hpp"
#include "proxy/upstream_tls.hpp"

#include <csignal>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include "proxy/admin.hpp"
#include "proxy/connection_limits.hpp"
#include "proxy/front_door.hpp"
#include "proxy/metrics_scraper.hpp"
#include "proxy/otlp_client.hpp"
#include "proxy/status_history.hpp"
#include "proxy/table_changes.hpp"
#include "proxy/worker.hpp"
#include "telemetry/access_log.hpp"
#include "telemetry/span_exporter.hpp"

namespace infergate::proxy {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

tcp::endpoint resolve(net::io_context& io, const HostPort& hp) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(hp.host, ec);
  if (!ec) return {address, hp.port};
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve '" + hp.host + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

std::string show(const tcp::endpoint& e) {
  const std::string host = e.address().to_string();
  return (e.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(e.port());
}

}  // namespace

struct Gateway::Impl {
  explicit Impl(GatewayConfig c)
      : config(std::move(c)),
        snapshots(build_snapshot(config, nullptr, upstream_tls.factory())),
        admin(control, metrics, snapshots, ready) {
    metrics.add_collector([this] { return upstream_tls.collect(); });
    metrics.add_collector([this] { return reload_metrics(); });
    metrics.add_collector([this] { return connections.collect(); });
    last_reload_at.store(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    if (config.auth.enabled) {
      front_door = std::make_unique<FrontDoor>(config);
      front_door->poll(*snapshots.load());  // the pools' key files, before the first request
      metrics.add_collector([this] { return front_door->collect(); });
    }
    admin.add_page("/debug/history", [this] { return history.render_json(); });
    admin.add_page("/debug/changes", [this] { return changes.render_json(); });
  }

  net::awaitable<void> wait_for_signals();
  net::awaitable<void> wait_for_reloads();
  net::awaitable<void> poll_front_door();
  net::awaitable<void> wait_for_reopen();
  void run_reload(const std::string& source);
  std::vector<prometheus::MetricFamily> reload_metrics() const;
  void start_telemetry(unsigned workers);
  void stop_telemetry();
  net::awaitable<void> sample_status();
  net::awaitable<void> drain();
  int live_sessions() const {
    int n = 0;
    for (const auto& w : workers) n += w->sessions();
    return n;
  }

  GatewayConfig config;
  UpstreamTlsCache upstream_tls;  // before the snapshots: their pools hold its handles
  SnapshotHolder snapshots;
  Metrics metrics;
  WaitRoom waits{snapshots, metrics};
  std::atomic<bool> draining{false};
  std::atomic<bool> ready{false};
  net::io_context control{1};
  AdminServer admin;
  MetricsScraper scraper;  // its own thread and event loop
  std::unique_ptr<FrontDoor> front_door;  // auth: keys and limits; null without it
  ConnectionLimits connections{config.max_connections, config.max_connections_per_client};
  std::unique_ptr<telemetry::AccessLog> access_log;  // access_log:; null when off
  std::unique_ptr<telemetry::SpanExporter> tracer;   // tracing.endpoint; null when unset
  std::optional<net::signal_set> reopen_signal;      // SIGUSR1: the access log's file again
  bool telemetry_stopped = false;
  std::atomic<std::uint64_t> reloads_applied{0}, reloads_refused{0};
  std::atomic<bool> last_reload_ok{true};
  std::atomic<double> last_reload_at{0};
  StatusHistory history;  // the status page's plots: one sample a second (sample_status)
  TableChanges changes;   // the status page's record of table changes (/debug/changes)
  std::optional<net::signal_set> signals;  // registered before the ready lines are printed
  std::optional<net::signal_set> reload_signal;
  std::function<void()> reload;
  std::vector<std::unique_ptr<Worker>> workers;
  bool stop_now = false;
};

Gateway::Gateway(GatewayConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Gateway::~Gateway() {
  impl_->scraper.stop();
  for (auto& w : impl_->workers) w->stop();
  impl_->workers.clear();
  if (impl_->front_door) impl_->front_door->stop();
  impl_->stop_telemetry();
}

void Gateway::Impl::start_telemetry(unsigned count) {
  if (config.access_log.enabled) {
    access_log = std::make_unique<telemetry::AccessLog>(config.access_log, count);
    metrics.add_collector([this] { return access_log->collect(); });
    reopen_signal.emplace(control, SIGUSR1);
  }
  if (!config.tracing.endpoint.empty()) {
    tracer = std::make_unique<telemetry::SpanExporter>(config.tracing, count,
                                                       make_otlp_sender(config.tracing));
    metrics.add_collector([this] { return tracer->collect(); });
  }
  if (access_log) access_log->start();
  if (tracer) tracer->start();
}

void Gateway::Impl::stop_telemetry() {
  // After the workers: what they handed over is written and sent before the process ends.
  if (telemetry_stopped) return;
  telemetry_stopped = true;
  if (access_log) access_log->stop();
  if (tracer) tracer->stop();
}

net::awaitable<void> Gateway::Impl::wait_for_reopen() {
  for (;;) {
    auto next = reopen_signal->async_wait(kTuple);
    auto [ec, signal] = co_await std::move(next);
    if (ec) co_return;
    spdlog::info("signal={} reopening the access log", signal);
    access_log->reopen();
  }
}

void Gateway::start() {
  Impl& m = *impl_;
  std::signal(SIGPIPE, SIG_IGN);
  m.signals.emplace(m.control, SIGINT, SIGTERM);
  if (m.reload) m.reload_signal.emplace(m.control, SIGHUP);
  unsigned count = m.config.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  tcp::endpoint address = resolve(m.control, m.config.listen);
  // One context for every worker: OpenSSL contexts are thread-safe once configured.
  const auto tls = m.config.tls.enabled() ? make_tls_context(m.config.tls) : nullptr;
  m.start_telemetry(count);
  for (unsigned i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>(i, m.config, m.snapshots, m.metrics, m.draining, m.waits);
    worker->set_tls(tls);
    worker->set_front_door(m.front_door.get());
    worker->set_telemetry(m.access_log.get(), m.tracer.get());
    worker->set_connection_limits(&m.connections);
    try {
      address = worker->listen(address);  // the first bind fixes the port for the others
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + show(address) + ": " + e.code().message());
    }
    m.workers.push_back(std::move(worker));
  }
  tcp::endpoint admin_address = resolve(m.control, m.config.admin);
  try {
    admin_address = m.admin.listen(admin_address);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + show(admin_address) + " (admin): " +
                             e.code().message());
  }
  if (m.front_door) m.front_door->start();
  for (auto& w : m.workers) w->start();
  m.admin.start();
  m.scraper.on_load_changed([&m] { m.waits.nudge_all(); });
  m.scraper.start(m.snapshots.load());
  m.ready.store(true, std::memory_order_release);
  std::printf("listening %s\nadmin %s\n", show(address).c_str(), show(admin_address).c_str());
  std::fflush(stdout);
  spdlog::info("infergate listening={} admin={} workers={} models={} pools={}", show(address),
               show(admin_address), count, m.config.models.size(), m.config.pools.size());
  m.changes.record("startup", true,
                   "models=" + std::to_string(m.config.models.size()) +
                       " pools=" + std::to_string(m.config.pools.size()));
}

net::awaitable<void> Gateway::Impl::wait_for_signals() {
  auto first = signals->async_wait(kTuple);
  auto [ec, signal] = co_await std::move(first);
  if (ec) co_return;
  spdlog::info("signal={} draining in-flight={} for up to {} ms", signal, live_sessions(),
               config.timeouts.drain.count());
  ready.store(false, std::memory_order_release);
  draining.store(true, std::memory_order_release);
  for (auto& w : workers) w->drain();
  net::co_spawn(control, drain(), net::detached);
  auto second = signals->async_wait(kTuple);
  auto [ec2, signal2] = co_await std::move(second);
  if (ec2) co_return;
  spdlog::warn("second signal={}: stopping now", signal2);
  stop_now = true;
}

net::awaitable<void> Gateway::Impl::drain() {
  // Polling a few counters on the control thread only while draining: cheaper and simpler than
  // every session signalling its end across threads.
  const auto deadline = std::chrono::steady_clock::now() + config.timeouts.drain;
  net::steady_timer timer(control);
  while (live_sessions() > 0 && !stop_now && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    auto wait = timer.async_wait(kTuple);
    co_await std::move(wait);
  }
  const int left = live_sessions();
  if (left > 0) spdlog::warn("drain over with {} connections still open: closing them", left);
  for (auto& w : workers) w->stop();
  admin.stop();
  scraper.stop();
  if (front_door) front_door->stop();
  stop_telemetry();
  signals->cancel();
  if (reload_signal) reload_signal->cancel();
  if (reopen_signal) reopen_signal->cancel();
  control.stop();
}

void Gateway::reload_tls(TlsConfig tls) {
  Impl& m = *impl_;
  net::post(m.control, [&m, tls = std::move(tls)] {
    if (tls.enabled() != m.config.tls.enabled()) {
      spdlog::warn("tls: the listener's TLS cannot be turned {} without a restart; unchanged",
                   tls.enabled() ? "on" : "off");
      return;
    }
    if (!tls.enabled()) return;
    std::shared_ptr<boost::asio::ssl::context> context;
    try {
      context = make_tls_context(tls);
    } catch (const std::exception& e) {
      spdlog::error("tls: reload failed, the current certificate stays: {}", e.what());
      return;
    }
    for (auto& worker : m.workers) {
      net::post(worker->io(), [w = worker.get(), context] { w->set_tls(context); });
    }
    spdlog::info("tls: certificate reloaded cert={}", tls.cert);
  });
}

void Gateway::replace_routes(GatewayConfig table, std::function<void()> in_use) {
  Impl& m = *impl_;
  // Workers hold a reference to m.config for limits and timeouts: only the snapshot changes.
  net::post(m.control, [&m, table = std::move(table), in_use = std::move(in_use)]() mutable {
    GatewayConfig next = m.config;
    next.pools = std::move(table.pools);
    next.models = std::move(table.models);
    next.objectives = std::move(table.objectives);
    next.scheduler = std::move(table.scheduler);
    next.queue = table.queue;
    const SnapshotPtr previous = m.snapshots.load();
    SnapshotPtr snapshot;
    try {
      snapshot = build_snapshot(next, previous.get(), m.upstream_tls.factory());
    } catch (const std::exception& e) {  // the last good table stays
      spdlog::error("routes not replaced: {}", e.what());
      m.changes.record("build", false, std::string("routes not replaced: ") + e.what());
      return;
    }
    if (m.front_door) m.front_door->poll(*snapshot);  // new pools' key files, before use
    m.snapshots.publish(snapshot);
    m.scraper.update(std::move(snapshot));
    spdlog::info("routes replaced models={} pools={}", next.models.size(), next.pools.size());
    if (in_use) in_use();
  });
}

net::awaitable<void> Gateway::Impl::poll_front_door() {
  // Key files and pool key files are looked at on the control thread; a change shows within
  // one reload_interval (Kubernetes swaps a Secret's files, which inotify would miss).
  net::steady_timer timer(control);
  for (;;) {
    timer.expires_after(front_door->reload_interval());
    auto wait = timer.async_wait(kTuple);
    auto [ec] = co_await std::move(wait);
    if (ec || draining.load(std::memory_order_acquire)) co_return;
    front_door->poll(*snapshots.load());
  }
}

net::awaitable<void> Gateway::Impl::wait_for_reloads() {
  for (;;) {
    auto next = reload_signal->async_wait(kTuple);
    auto [ec, signal] = co_await std::move(next);
    if (ec) co_return;
    run_reload("sighup");
  }
}

void Gateway::Impl::run_reload(const std::string& source) {
  spdlog::info("source={} reloading routes", source);
  try {
    reload();
    changes.record(source, true, "config file re-read, new table handed over");
    reloads_applied.fetch_add(1, std::memory_order_relaxed);
    last_reload_ok.store(true, std::memory_order_relaxed);
    last_reload_at.store(std::chrono::duration<double>(
                             std::chrono::system_clock::now().time_since_epoch()).count(),
                         std::memory_order_relaxed);
  } catch (const std::exception& e) {
    reloads_refused.fetch_add(1, std::memory_order_relaxed);
    last_reload_ok.store(false, std::memory_order_relaxed);
    spdlog::error("source={} reload refused, routes unchanged: {}", source, e.what());
    changes.record(source, false, e.what());
  }
}

std::vector<prometheus::MetricFamily> Gateway::Impl::reload_metrics() const {
  prometheus::MetricFamily total{"infergate_config_reloads_total",
                                 "Reloads of the config file (SIGHUP or a change seen by the watcher)",
                                 prometheus::MetricType::Counter, {}};
  for (const auto& [result, n] : {std::pair{"applied", &reloads_applied}, {"refused", &reloads_refused}}) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"result", result});
    metric.counter.value = static_cast<double>(n->load(std::memory_order_relaxed));
    total.metric.push_back(std::move(metric));
  }
  auto gauge = [](std::string name, std::string help, double value) {
    prometheus::MetricFamily family{std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
    prometheus::ClientMetric metric;
    metric.gauge.value = value;
    family.metric.push_back(std::move(metric));
    return family;
  };
  return {std::move(total),
          gauge("infergate_config_last_reload_successful",
                "1 when the last reload applied (or none was tried), 0 when it was refused",
                last_reload_ok.load(std::memory_order_relaxed) ? 1 : 0),
          gauge("infergate_config_last_reload_success_timestamp_seconds",
                "When the table last came from the file (start-up or an applied reload)",
                last_reload_at.load(std::memory_order_relaxed))};
}

void Gateway::reload_now(std::string source) {
  Impl& m = *impl_;
  net::post(m.control, [&m, source = std::move(source)] {
    if (m.reload) m.run_reload(source);
  });
}

net::awaitable<void> Gateway::Impl::sample_status() {
  // One sample a second for the status page's plots: a walk over the endpoints' atomics and
  // the request families, on the control thread; nothing on the data path.
  net::steady_timer timer(control);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    const auto unix_now = std::chrono::system_clock::now().time_since_epoch();
    const Metrics::Totals totals = metrics.totals();
    history.add(take_sample(*snapshots.load(), now,
                            std::chrono::duration_cast<std::chrono::milliseconds>(unix_now).count(),
                            totals.requests, totals.errors));
    timer.expires_after(std::chrono::seconds(1));
    auto wait = timer.async_wait(kTuple);
    auto [ec] = co_await std::move(wait);
    if (ec || draining.load(std::memory_order_acquire)) co_return;
  }
}

void Gateway::record_table_change(std::string_view source, bool applied, std::string detail) {
  impl_->changes.record(source, applied, std::move(detail));
}

void Gateway::on_reload_signal(std::function<void()> reload) { impl_->reload = std::move(reload); }

void Gateway::add_debug_page(std::string path, std::function<std::string()> render) {
  impl_->admin.add_page(std::move(path), std::move(render));
}

void Gateway::add_readiness_gate(std::string what, std::function<bool()> ok) {
  impl_->admin.add_readiness_gate(std::move(what), std::move(ok));
}

void Gateway::add_metrics_collector(std::function<std::vector<prometheus::MetricFamily>()> collect) {
  impl_->metrics.add_collector(std::move(collect));
}

int Gateway::run() {
  Impl& m = *impl_;
  net::co_spawn(m.control, m.wait_for_signals(), net::detached);
  if (m.reload_signal) net::co_spawn(m.control, m.wait_for_reloads(), net::detached);
  if (m.front_door) net::co_spawn(m.control, m.poll_front_door(), net::detached);
  if (m.reopen_signal) net::co_spawn(m.control, m.wait_for_reopen(), net::detached);
  net::co_spawn(m.control, m.sample_status(), net::detached);
  m.control.run();
  for (auto& w : m.workers) w->join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace infergate::proxy
