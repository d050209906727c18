// The gateway process as main() sees it: workers, admin listener, signals and the drain.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infergate/config.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace infergate::proxy {

class Gateway {
 public:
  explicit Gateway(GatewayConfig config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds every worker's listener (SO_REUSEPORT, one shared port; port 0 lets the OS choose)
  // and the admin listener, then prints "listening HOST:PORT" and "admin HOST:PORT" to stdout,
  // flushed. Throws std::exception with a message on failure.
  void start();

  // Serves until SIGTERM or SIGINT, then drains: stop accepting, close idle connections, let
  // in-flight requests finish for up to timeouts.drain. Returns the process exit code.
  int run();

  // Replaces the routing table (pools, models, objectives, scheduler profile, queue bounds) with
  // those of `table`; listeners, workers, limits and timeouts stay as started. Any thread, any
  // time after construction: the control thread builds the snapshot (endpoints that stay keep
  // their counters and connections) and the workers see it on their next request. `in_use`, if
  // given, runs on the control thread once the snapshot is published (not if the table fails).
  void replace_routes(GatewayConfig table, std::function<void()> in_use = {});

  // Loads the certificate and key of `tls` again (e.g. rotated by cert-manager) for the next
  // connections; open ones keep theirs. A pair that does not load is logged and the current one
  // stays; TLS cannot be turned on or off without a restart (logged). Any thread, after start().
  void reload_tls(TlsConfig tls);

  // Called on the control thread at every SIGHUP and reload_now() (e.g. re-read the YAML file
  // and hand the new table to replace_routes); set before start(). An exception is logged and
  // counted (infergate_config_reloads_total{result="refused"}), the table stays.
  void on_reload_signal(std::function<void()> reload);
  // Runs that reload on the control thread, as SIGHUP does; any thread (the config watcher's).
  // `source` says who asked, for the log and /debug/changes.
  void reload_now(std::string source);

  // An extra JSON page on the admin listener (e.g. /debug/routes). Register before start();
  // `render` runs on the control thread for every GET.
  void add_debug_page(std::string path, std::function<std::string()> render);

  // /readyz answers 503 ("waiting: WHAT") while `ok` returns false, e.g. until the cluster's
  // routes are in: a replica gets no traffic before it can route it. Before start().
  void add_readiness_gate(std::string what, std::function<bool()> ok);

  // Notes a change of the routing table for /debug/changes and the status page: `source` is
  // "startup", "file", "sighup" or "kubernetes"; `applied` false means refused (the old table
  // stays) and `detail` says why (file:line:field). Any thread, any time after construction;
  // the last 20 are kept.
  void record_table_change(std::string_view source, bool applied, std::string detail);

  // Extra families for the admin listener's /metrics (see Metrics::add_collector). Before start().
  void add_metrics_collector(std::function<std::vector<prometheus::MetricFamily>()> collect);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::proxy
