// k8s-watch-dump: runs a ClusterWatcher over the given resources and prints, on every change, one
// JSON line with the resource's whole object set, its synced flag and the watcher's counters. For
// tests (tests/integration/k8s_client_test.py) and for looking at what infergate sees in a cluster.
//
//   k8s-watch-dump [--kubeconfig PATH [--context NAME] | --in-cluster] [tuning] RESOURCE...
//   RESOURCE: [GROUP/]VERSION/PLURAL[:cluster][@NAMESPACE][?LABEL_SELECTOR]
//             e.g. v1/pods@default?app=vllm  inference.networking.k8s.io/v1/inferencepools
//   tuning:   --page-size N --backoff-ms N --backoff-max-ms N --absent-recheck-ms N --idle-ms N
//             --watch-timeout-s N --request-timeout-ms N --log-level LEVEL
//   --summary: print the number of objects ("size") instead of the objects (for CPU measurements)
// Logs go to stderr; it runs until SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "infergate/k8s/client.hpp"

namespace {

using namespace infergate::k8s;

struct Spec {
  std::string text;
  ResourceKind kind;
  WatchScope scope;
};

Spec parse_spec(const std::string& text) {
  Spec spec{text, {}, {}};
  std::string rest = text;
  if (auto q = rest.find('?'); q != std::string::npos) {
    spec.scope.label_selector = rest.substr(q + 1);
    rest.resize(q);
  }
  if (auto at = rest.find('@'); at != std::string::npos) {
    spec.scope.namespace_name = rest.substr(at + 1);
    rest.resize(at);
  }
  if (rest.ends_with(":cluster")) {
    spec.kind.namespaced = false;
    rest.resize(rest.size() - 8);
  }
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    auto slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() == 2) parts.insert(parts.begin(), "");
  if (parts.size() != 3 || parts[1].empty() || parts[2].empty())
    throw std::invalid_argument("bad resource '" + text + "'");
  spec.kind.group = parts[0];
  spec.kind.version = parts[1];
  spec.kind.plural = parts[2];
  return spec;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string counters_json(const WatchCounters& c) {
  return "{\"lists\":" + std::to_string(c.lists) + ",\"relists\":" + std::to_string(c.relists) +
         ",\"watches\":" + std::to_string(c.watches) + ",\"events\":" + std::to_string(c.events) +
         ",\"bookmarks\":" + std::to_string(c.bookmarks) + ",\"gone\":" + std::to_string(c.gone) +
         ",\"errors\":" + std::to_string(c.errors) +
         ",\"token_reloads\":" + std::to_string(c.token_reloads) + "}";
}

int usage(const std::string& error) {
  std::cerr << "k8s-watch-dump: " << error
            << "\nusage: k8s-watch-dump [--kubeconfig PATH [--context NAME] | --in-cluster] "
               "[--page-size N] [--backoff-ms N] [--backoff-max-ms N] [--absent-recheck-ms N] "
               "[--idle-ms N] [--watch-timeout-s N] [--request-timeout-ms N] [--log-level L] "
               "[--summary] "
               "RESOURCE...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_logger_mt("watch-dump");
  spdlog::set_default_logger(logger);
  std::string kubeconfig, context;
  bool in_cluster = false;
  bool summary = false;
  WatchTuning tuning;
  std::vector<Spec> specs;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        return argv[++i];
      };
      using ms = std::chrono::milliseconds;
      if (arg == "--kubeconfig") kubeconfig = value();
      else if (arg == "--context") context = value();
      else if (arg == "--in-cluster") in_cluster = true;
      else if (arg == "--summary") summary = true;
      else if (arg == "--page-size") tuning.page_size = std::stoul(value());
      else if (arg == "--backoff-ms") tuning.backoff_initial = ms(std::stol(value()));
      else if (arg == "--backoff-max-ms") tuning.backoff_max = ms(std::stol(value()));
      else if (arg == "--absent-recheck-ms") tuning.absent_recheck = ms(std::stol(value()));
      else if (arg == "--idle-ms") tuning.watch_idle_timeout = ms(std::stol(value()));
      else if (arg == "--request-timeout-ms") tuning.request_timeout = ms(std::stol(value()));
      else if (arg == "--watch-timeout-s")
        tuning.watch_timeout_min = tuning.watch_timeout_max =
            std::chrono::seconds(std::stol(value()));
      else if (arg == "--log-level") spdlog::set_level(spdlog::level::from_str(value()));
      else if (arg.starts_with("--")) return usage("unknown option " + arg);
      else specs.push_back(parse_spec(arg));
    }
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  if (specs.empty()) return usage("no resource given");

  // Signals are taken by sigwait on this thread only (blocked before any thread starts).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    ClusterAccess access = in_cluster ? in_cluster_access()
                           : kubeconfig.empty() ? default_access()
                                                : kubeconfig_access(kubeconfig, context);
    ClusterWatcher watcher(access, tuning);
    std::mutex out_mutex;
    for (const Spec& spec : specs) {
      watcher.watch(spec.kind, spec.scope,
                    [&watcher, &out_mutex, summary, name = spec.text](const ObjectMap& objects,
                                                                      bool synced) {
                      std::string line = "{\"resource\":" + json_string(name) +
                                         ",\"synced\":" + (synced ? "true" : "false");
                      if (summary) {
                        line += ",\"size\":" + std::to_string(objects.size());
                      } else {
                        line += ",\"objects\":{";
                        bool first = true;
                        for (const auto& [key, json] : objects) {
                          if (!first) line.push_back(',');
                          first = false;
                          line += json_string(key) + ":" + json;
                        }
                        line += "}";
                      }
                      line += ",\"counters\":" + counters_json(watcher.counters()) + "}\n";
                      std::lock_guard lock(out_mutex);
                      std::fwrite(line.data(), 1, line.size(), stdout);
                      std::fflush(stdout);
                    });
    }
    watcher.start();
    int signal = 0;
    sigwait(&signals, &signal);
    watcher.stop();
  } catch (const AccessError& e) {
    std::cerr << "k8s-watch-dump: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
