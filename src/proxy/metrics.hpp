// The gateway's own Prometheus metrics (served on the admin listener's /metrics).
//
// Families are process-wide; each worker keeps a WorkerMetrics cache from label values to the
// metric children, so the data path takes no lock and builds no label map after warm-up.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "infergate/errors.hpp"
#include "infergate/routing.hpp"

namespace prometheus {
struct MetricFamily;
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace infergate::proxy {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Copies the live per-endpoint in-flight counters of `snapshot` into their gauges, then
  // returns every family in the Prometheus text format.
  std::string render(const Snapshot* snapshot);

  // Families made by another part of the process at each render (e.g. the Kubernetes source's
  // counters). Add before the admin listener serves; `collect` runs on the control thread.
  using Collect = std::function<std::vector<prometheus::MetricFamily>()>;
  void add_collector(Collect collect);

  // Requests answered and errors seen so far, all workers: the sums of the `requests` and
  // `errors` families. Read from the families' children (a lock per family, a walk over a few
  // label sets): for the status sampler's once a second, never the data path, which pays nothing.
  struct Totals {
    double requests = 0;
    double errors = 0;
  };
  Totals totals() const;

 private:
  std::vector<Collect> collectors_;
  std::shared_ptr<prometheus::Registry> registry_;  // first: the families below live in it

 public:
  prometheus::Family<prometheus::Counter>& requests;      // {model, code}
  prometheus::Family<prometheus::Counter>& errors;        // {reason, code}
  prometheus::Family<prometheus::Histogram>& first_byte;  // {endpoint}
  prometheus::Family<prometheus::Gauge>& in_flight;       // {endpoint}
  prometheus::Counter& retries;        // next endpoint / fresh connection tried before any byte
  prometheus::Counter& client_aborts;  // client left before the response's last byte

  // The Inference Extension's names, so its dashboards and alerts work on this gateway too.
  prometheus::Family<prometheus::Counter>& model_requests;    // {model_name, target_model_name}
  prometheus::Family<prometheus::Counter>& model_errors;      // {..., error_code}
  prometheus::Family<prometheus::Histogram>& model_duration;  // {model_name, target_model_name}
  prometheus::Family<prometheus::Gauge>& model_running;       // {model_name}
  // Tokens of each forwarded request whose response reported its usage.
  prometheus::Family<prometheus::Histogram>& model_input_tokens;   // {model_name, target_model_name}
  prometheus::Family<prometheus::Histogram>& model_output_tokens;  // {model_name, target_model_name}

  // Per team of API keys (auth:); teams are named in the config, so their number is bounded.
  prometheus::Family<prometheus::Counter>& team_requests;  // {team, code}
  prometheus::Family<prometheus::Counter>& team_tokens;    // {team, type="input|output"}
  prometheus::Family<prometheus::Counter>& team_limited;   // {team, limit="requests|tokens"}

  // The wait queues (proxy/wait_queue.hpp), with the Inference Extension's flow-control names.
  prometheus::Family<prometheus::Gauge>& queue_size;  // {inference_pool, priority}
  prometheus::Family<prometheus::Histogram>& queue_duration;  // {inference_pool, priority, outcome}
  // Sheddable requests refused with 429 because their pool was saturated.
  prometheus::Family<prometheus::Counter>& shed;  // {model_name, priority}
};

// One worker's view: lock-free after the first use of each label combination.
class WorkerMetrics {
 public:
  explicit WorkerMetrics(Metrics& metrics);

  // One answered client request; `model` is a routed model name or empty.
  void request(std::string_view model, unsigned status);
  void error(ErrorKind kind);
  void first_byte(const EndpointPtr& endpoint, double seconds);
  void retry();
  void client_abort();
  // A sheddable request of `model` at `priority` refused with 429 (saturated pool).
  void shed(std::string_view model, int priority);

  // The per-model series of one forwarded request: requested model, served (target) model.
  struct ModelSeries {
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
    prometheus::Gauge* running = nullptr;
    prometheus::Histogram* input_tokens = nullptr;
    prometheus::Histogram* output_tokens = nullptr;
    std::array<prometheus::Counter*, 32> errors{};
    std::string model, target;
  };
  ModelSeries& model(std::string_view model, std::string_view target);
  void model_started(ModelSeries& series);
  // `error`: what the request failed with, if it did (a refusal or the server dying mid-stream).
  void model_finished(ModelSeries& series, double seconds, const ErrorKind* error);
  // The usage a response reported (JSON body or the final SSE chunk).
  void model_tokens(ModelSeries& series, std::uint64_t input, std::uint64_t output);

  // The series of one team (auth: keys); stable for the worker's life.
  struct TeamSeries {
    std::string team;
    prometheus::Counter* input_tokens = nullptr;
    prometheus::Counter* output_tokens = nullptr;
    prometheus::Counter* limited_requests = nullptr;
    prometheus::Counter* limited_tokens = nullptr;
    std::vector<std::pair<unsigned, prometheus::Counter*>> requests;  // by status: few
  };
  TeamSeries& team(std::string_view team);
  void team_request(TeamSeries& series, unsigned status);
  void team_tokens(TeamSeries& series, std::uint64_t input, std::uint64_t output);
  void team_limited(TeamSeries& series, ErrorKind kind);  // requests_limited or tokens_limited

 private:
  struct PairView {
    std::string_view model, target;
  };
  struct PairHash {
    using is_transparent = void;
    std::size_t operator()(const PairView& k) const noexcept {
      return std::hash<std::string_view>{}(k.model) * 31 + std::hash<std::string_view>{}(k.target);
    }
    std::size_t operator()(const std::pair<std::string, std::string>& k) const noexcept {
      return (*this)(PairView{k.first, k.second});
    }
  };
  struct PairEq {
    using is_transparent = void;
    static PairView view(const PairView& v) noexcept { return v; }
    static PairView view(const std::pair<std::string, std::string>& p) noexcept {
      return {p.first, p.second};
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return view(a).model == view(b).model && view(a).target == view(b).target;
    }
  };

  struct Key {
    std::string model;
    unsigned status;
  };
  struct KeyView {
    std::string_view model;
    unsigned status;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(const KeyView& k) const noexcept {
      return std::hash<std::string_view>{}(k.model) * 31 + k.status;
    }
    std::size_t operator()(const Key& k) const noexcept {
      return (*this)(KeyView{k.model, k.status});
    }
  };
  struct KeyEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.status == b.status && std::string_view(a.model) == std::string_view(b.model);
    }
  };

  struct ShedKey {
    std::string model;
    int priority;
    prometheus::Counter* counter;
  };

  Metrics& metrics_;
  std::vector<std::unique_ptr<TeamSeries>> teams_;  // few teams: a scan beats a hash
  std::vector<ShedKey> shed_;  // few (model, priority) pairs: a scan beats a hash
  std::unordered_map<Key, prometheus::Counter*, KeyHash, KeyEq> requests_;
  std::array<prometheus::Counter*, 32> errors_{};
  std::unordered_map<const Endpoint*, std::pair<EndpointPtr, prometheus::Histogram*>> first_byte_;
  std::unordered_map<std::pair<std::string, std::string>, std::unique_ptr<ModelSeries>, PairHash,
                     PairEq>
      models_;
};

}  // namespace infergate::proxy
