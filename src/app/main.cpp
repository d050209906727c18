// infergate: flags, configuration, and the gateway's life from start to drain.
#include <charconv>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sys/resource.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/cluster_metrics.hpp"
#include "app/config_watch.hpp"
#include "infergate/config.hpp"
#include "infergate/k8s/cluster_source.hpp"
#include "proxy/gateway.hpp"

namespace infergate::app {
extern const std::string_view kEmbeddedConfig;
}

namespace {

constexpr std::string_view kVersion = "0.1.0";

constexpr std::string_view kUsage =
    "usage: infergate [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--workers N|auto]\n"
    "                 [--log-level trace|debug|info|warn|error|off] [--kubeconfig FILE]\n"
    "       infergate --check-config FILE\n"
    "       infergate --version | --help\n"
    "\n"
    "An OpenAI-compatible gateway: routes each request by its JSON body's \"model\" to a pool of\n"
    "model servers and streams the answer back. Without --config it runs the embedded copy of\n"
    "config/gateway.yaml (three simulated servers on 127.0.0.1:8001-8003).\n"
    "--kubeconfig turns on Kubernetes mode (routes from InferencePools, HTTPRoutes, InferenceModels\n"
    "and Pods, docs/kubernetes.md) with that file's current context; a `kubernetes:` block in the\n"
    "config does the same, in-cluster or with $KUBECONFIG.\n";

struct Options {
  std::optional<std::string> config;
  std::optional<std::string> check_config;
  std::optional<std::string> listen;
  std::optional<std::string> admin;
  std::optional<std::string> workers;
  std::optional<std::string> kubeconfig;
  std::string log_level = "info";
  bool version = false;
  bool help = false;
};

// Parses argv; returns an error message, or empty. Accepts "--flag value" and "--flag=value".
std::string parse_args(int argc, char** argv, Options& out) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    auto value = [&](std::optional<std::string>& slot) -> bool {
      if (inline_value) {
        slot = *inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      slot = argv[++i];
      return true;
    };
    std::optional<std::string> level;
    if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else if (arg == "--version") {
      out.version = true;
    } else if (arg == "--config" || arg == "-c") {
      if (!value(out.config)) return "--config needs a file";
    } else if (arg == "--check-config") {
      if (!value(out.check_config)) return "--check-config needs a file";
    } else if (arg == "--listen") {
      if (!value(out.listen)) return "--listen needs HOST:PORT";
    } else if (arg == "--admin") {
      if (!value(out.admin)) return "--admin needs HOST:PORT";
    } else if (arg == "--workers") {
      if (!value(out.workers)) return "--workers needs a number or 'auto'";
    } else if (arg == "--kubeconfig") {
      if (!value(out.kubeconfig)) return "--kubeconfig needs a file";
    } else if (arg == "--log-level") {
      if (!value(level)) return "--log-level needs a level";
      out.log_level = *level;
    } else {
      return "unknown argument '" + std::string(arg) + "'";
    }
  }
  return {};
}

int check_config(const std::string& path) {
  try {
    infergate::load_config_file(path);
  } catch (const infergate::ConfigError& e) {
    for (const auto& issue : e.issues()) std::fprintf(stderr, "%s\n", issue.str().c_str());
    return 1;
  }
  std::printf("ok\n");
  return 0;
}

// Applies the command-line overrides; returns an error message, or empty.
std::string apply_overrides(const Options& options, infergate::GatewayConfig& config) {
  try {
    if (options.listen) config.listen = infergate::parse_host_port(*options.listen);
    if (options.admin) config.admin = infergate::parse_host_port(*options.admin);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (options.kubeconfig) {
    config.kubernetes.enabled = true;
    config.kubernetes.kubeconfig = *options.kubeconfig;
  }
  if (options.workers) {
    const std::string& w = *options.workers;
    unsigned n = 0;
    const auto r = std::from_chars(w.data(), w.data() + w.size(), n);
    if (w == "auto") {
      config.workers = 0;
    } else if (r.ec != std::errc{} || r.ptr != w.data() + w.size() || n < 1 || n > 1024) {
      return "--workers: expected 'auto' or a number from 1 to 1024, got '" + w + "'";
    } else {
      config.workers = n;
    }
  }
  return {};
}

}  // namespace

namespace {

// Descriptors up to the hard limit: a gateway's connections are its descriptors, and the soft
// limit most shells and units start with (1024) would cap it far below max_connections.
void raise_descriptor_limit(std::size_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_max < max_connections) {
    spdlog::warn("open files limited to {} (hard RLIMIT_NOFILE), below max_connections={}",
                 limit.rlim_max, max_connections);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const std::string error = parse_args(argc, argv, options); !error.empty()) {
    std::fprintf(stderr, "infergate: %s\n\n%s", error.c_str(), kUsage.data());
    return 2;
  }
  if (options.help) {
    std::printf("%s", kUsage.data());
    return 0;
  }
  if (options.version) {
    std::printf("infergate %s\n", kVersion.data());
    return 0;
  }
  if (options.check_config) return check_config(*options.check_config);

  auto logger = spdlog::stderr_color_mt("infergate");
  spdlog::set_default_logger(logger);
  const auto level = spdlog::level::from_str(options.log_level);
  if (level == spdlog::level::off && options.log_level != "off") {
    std::fprintf(stderr, "infergate: unknown log level '%s'\n", options.log_level.c_str());
    return 2;
  }
  spdlog::set_level(level);

  infergate::GatewayConfig config;
  try {
    config = options.config
                 ? infergate::load_config_file(*options.config)
                 : infergate::load_config_string(std::string(infergate::app::kEmbeddedConfig),
                                                 "<embedded config/gateway.yaml>");
  } catch (const infergate::ConfigError& e) {
    for (const auto& issue : e.issues()) std::fprintf(stderr, "%s\n", issue.str().c_str());
    return 1;
  }
  if (const std::string error = apply_overrides(options, config); !error.empty()) {
    std::fprintf(stderr, "infergate: %s\n", error.c_str());
    return 2;
  }
  raise_descriptor_limit(config.max_connections);
  try {
    const infergate::GatewayConfig file = config;
    infergate::proxy::Gateway gateway(std::move(config));
    std::unique_ptr<infergate::k8s::ClusterSource> cluster;
    if (file.kubernetes.enabled) {
      cluster = std::make_unique<infergate::k8s::ClusterSource>(
          infergate::k8s::access_for(file.kubernetes), file,
          [&gateway](infergate::GatewayConfig table, std::function<void()> in_use) {
            // The status page's record: noted once the cluster's table is in use.
            std::string detail = "models=" + std::to_string(table.models.size()) +
                                 " pools=" + std::to_string(table.pools.size());
            gateway.replace_routes(std::move(table), [&gateway, in_use = std::move(in_use),
                                                      detail = std::move(detail)]() mutable {
              if (in_use) in_use();
              gateway.record_table_change("kubernetes", true, std::move(detail));
            });
          });
      gateway.add_debug_page("/debug/routes", [&cluster] { return cluster->debug_json(); });
      gateway.add_readiness_gate("the cluster's routes", [&cluster] { return cluster->stats().applied; });
      gateway.add_metrics_collector(
          [&cluster] { return infergate::app::cluster_metric_families(cluster->stats()); });
    }
    if (options.config) {
      // SIGHUP: re-read the file; its routes replace the file's part of the table (the cluster's
      // part stays). A file that does not load leaves everything as it is.
      gateway.on_reload_signal([&gateway, &cluster, path = *options.config] {
        infergate::GatewayConfig next;
        try {
          next = infergate::load_config_file(path);
        } catch (const infergate::ConfigError& e) {
          for (const auto& issue : e.issues()) spdlog::error("{}", issue.str());
          throw;
        }
        gateway.reload_tls(next.tls);
        if (cluster) {
          cluster->set_file(std::move(next));
        } else {
          gateway.replace_routes(std::move(next));
        }
      });
    }
    // The file watched (ConfigMap updates swap a symlink; no signal comes): a change reloads
    // like SIGHUP. Without inotify, SIGHUP still works.
    std::unique_ptr<infergate::app::ConfigWatch> watch;
    if (options.config) {
      try {
        watch = std::make_unique<infergate::app::ConfigWatch>(
            *options.config, std::chrono::milliseconds(250), [&gateway] { gateway.reload_now("file"); });
      } catch (const std::exception& e) {
        spdlog::warn("config file not watched ({}): reload with SIGHUP", e.what());
      }
    }
    gateway.start();
    if (watch) watch->start();
    if (cluster) cluster->start();
    const int code = gateway.run();
    watch.reset();
    if (cluster) cluster->stop();
    return code;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
