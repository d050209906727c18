// The gateway's Prometheus families and the per-worker caches of their children.
#include "proxy/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace infergate::proxy {
namespace {

// Time to first byte spans cached answers (sub-millisecond) to long prefills (minutes).
const prometheus::Histogram::BucketBoundaries kFirstByteBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5,    1,     2.5,    5,     10,   30,    60,   120, 300};

// A whole request: from milliseconds (cached, embeddings) to many minutes (long generations).
const prometheus::Histogram::BucketBoundaries kDurationBuckets{
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,  1.0,  1.25, 1.5, 2,
    3,     4,     5,    6,   8,   10,  15,  20,   30,   45,   60,  120,
    180,   240,   300,  360, 480, 600, 900, 1200, 1800, 2700, 3600};

// The Inference Extension's token buckets (its inference_model_input/output_tokens).
const prometheus::Histogram::BucketBoundaries kInputTokenBuckets{
    1,    8,    16,    32,    64,    128,    256,    512,    1024,   2048,
    4096, 8192, 16384, 32778, 65536, 131072, 262144, 524288, 1048576};
const prometheus::Histogram::BucketBoundaries kOutputTokenBuckets{
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests(prometheus::BuildCounter()
                   .Name("infergate_requests_total")
                   .Help("Client requests answered, by requested model and HTTP status")
                   .Register(*registry_)),
      errors(prometheus::BuildCounter()
                 .Name("infergate_errors_total")
                 .Help("Refusals and failures a client saw, by reason and HTTP status")
                 .Register(*registry_)),
      first_byte(prometheus::BuildHistogram()
                     .Name("infergate_upstream_first_byte_seconds")
                     .Help("Request written to a model server -> its response head, by endpoint")
                     .Register(*registry_)),
      in_flight(prometheus::BuildGauge()
                    .Name("infergate_endpoint_in_flight")
                    .Help("Requests from this gateway in flight on an endpoint")
                    .Register(*registry_)),
      retries(prometheus::BuildCounter()
                  .Name("infergate_upstream_retries_total")
                  .Help("Attempts moved to another endpoint or connection before any response byte")
                  .Register(*registry_)
                  .Add({})),
      client_aborts(
          prometheus::BuildCounter()
              .Name("infergate_client_aborts_total")
              .Help("Clients that closed their connection before the response's last byte")
              .Register(*registry_)
              .Add({})),
      model_requests(prometheus::BuildCounter()
                         .Name("inference_model_request_total")
                         .Help("Requests forwarded, by requested and served model")
                         .Register(*registry_)),
      model_errors(prometheus::BuildCounter()
                       .Name("inference_model_request_error_total")
                       .Help("Forwarded requests that failed, by requested and served model")
                       .Register(*registry_)),
      model_duration(
          prometheus::BuildHistogram()
              .Name("inference_model_request_duration_seconds")
              .Help("Request forwarded -> last response byte, by requested and served model")
              .Register(*registry_)),
      model_running(prometheus::BuildGauge()
                        .Name("inference_model_running_requests")
                        .Help("Forwarded requests not yet finished, by requested model")
                        .Register(*registry_)),
      model_input_tokens(prometheus::BuildHistogram()
                             .Name("inference_model_input_tokens")
                             .Help("Prompt tokens of a request, from its response's usage")
                             .Register(*registry_)),
      model_output_tokens(prometheus::BuildHistogram()
                              .Name("inference_model_output_tokens")
                              .Help("Completion tokens of a request, from its response's usage")
                              .Register(*registry_)),
      team_requests(prometheus::BuildCounter()
                        .Name("infergate_team_requests_total")
                        .Help("Requests answered to a team's API keys, by HTTP status")
                        .Register(*registry_)),
      team_tokens(prometheus::BuildCounter()
                      .Name("infergate_team_tokens_total")
                      .Help("Tokens a team's requests used (responses' usage), by type")
                      .Register(*registry_)),
      team_limited(prometheus::BuildCounter()
                       .Name("infergate_team_rate_limited_total")
                       .Help("Requests of a team refused (429) by a per-key limit, by limit")
                       .Register(*registry_)),
      queue_size(prometheus::BuildGauge()
                     .Name("inference_extension_flow_control_queue_size")
                     .Help("Requests waiting in the gateway's queue, by pool and priority")
                     .Register(*registry_)),
      queue_duration(
          prometheus::BuildHistogram()
              .Name("inference_extension_flow_control_request_queue_duration_seconds")
              .Help("Time requests spent in the gateway's queue, by pool, priority and outcome")
              .Register(*registry_)),
      shed(prometheus::BuildCounter()
               .Name("infergate_requests_shed_total")
               .Help("Sheddable requests refused (429) because their pool was saturated")
               .Register(*registry_)) {}

Metrics::~Metrics() = default;

std::string Metrics::render(const Snapshot* snapshot) {
  if (snapshot) {
    for (const auto& pool : snapshot->pools) {
      for (const auto& endpoint : pool->endpoints) {
        in_flight.Add({{"endpoint", endpoint->name}})
            .Set(endpoint->in_flight.load(std::memory_order_relaxed));
      }
    }
  }
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (const Collect& collect : collectors_) {
    for (auto& family : collect()) families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

void Metrics::add_collector(Collect collect) { collectors_.push_back(std::move(collect)); }

namespace {

double counter_sum(const prometheus::Family<prometheus::Counter>& family) {
  double sum = 0;
  for (const prometheus::MetricFamily& f : family.Collect()) {
    for (const prometheus::ClientMetric& m : f.metric) sum += m.counter.value;
  }
  return sum;
}

}  // namespace

Metrics::Totals Metrics::totals() const { return {counter_sum(requests), counter_sum(errors)}; }

WorkerMetrics::WorkerMetrics(Metrics& metrics) : metrics_(metrics) {
  static_assert(static_cast<std::size_t>(ErrorKind::limits_unavailable) < 32);
}

void WorkerMetrics::request(std::string_view model, unsigned status) {
  auto it = requests_.find(KeyView{model, status});
  if (it == requests_.end()) {
    prometheus::Counter& counter =
        metrics_.requests.Add({{"model", std::string(model)}, {"code", std::to_string(status)}});
    it = requests_.emplace(Key{std::string(model), status}, &counter).first;
  }
  it->second->Increment();
}

void WorkerMetrics::error(ErrorKind kind) {
  auto& slot = errors_[static_cast<std::size_t>(kind)];
  if (!slot) {
    const ErrorInfo& info = describe(kind);
    slot = &metrics_.errors.Add(
        {{"reason", std::string(info.reason)}, {"code", std::to_string(info.status)}});
  }
  slot->Increment();
}

void WorkerMetrics::first_byte(const EndpointPtr& endpoint, double seconds) {
  auto it = first_byte_.find(endpoint.get());
  if (it == first_byte_.end()) {
    prometheus::Histogram& histogram =
        metrics_.first_byte.Add({{"endpoint", endpoint->name}}, kFirstByteBuckets);
    // The EndpointPtr keeps the key's address from being reused by another endpoint.
    it = first_byte_.emplace(endpoint.get(), std::make_pair(endpoint, &histogram)).first;
  }
  it->second.second->Observe(seconds);
}

WorkerMetrics::ModelSeries& WorkerMetrics::model(std::string_view model, std::string_view target) {
  auto it = models_.find(PairView{model, target});
  if (it == models_.end()) {
    auto series = std::make_unique<ModelSeries>();
    series->model.assign(model);
    series->target.assign(target);
    const prometheus::Labels labels{{"model_name", series->model},
                                    {"target_model_name", series->target}};
    series->requests = &metrics_.model_requests.Add(labels);
    series->duration = &metrics_.model_duration.Add(labels, kDurationBuckets);
    series->running = &metrics_.model_running.Add({{"model_name", series->model}});
    series->input_tokens = &metrics_.model_input_tokens.Add(labels, kInputTokenBuckets);
    series->output_tokens = &metrics_.model_output_tokens.Add(labels, kOutputTokenBuckets);
    it = models_.emplace(std::make_pair(series->model, series->target), std::move(series)).first;
  }
  return *it->second;
}

void WorkerMetrics::model_started(ModelSeries& series) {
  series.requests->Increment();
  series.running->Increment();
}

void WorkerMetrics::model_finished(ModelSeries& series, double seconds, const ErrorKind* error) {
  series.running->Decrement();
  series.duration->Observe(seconds);
  if (!error) return;
  const ErrorKind kind = *error;
  auto& slot = series.errors[static_cast<std::size_t>(kind)];
  if (!slot) {
    slot = &metrics_.model_errors.Add({{"model_name", series.model},
                                       {"target_model_name", series.target},
                                       {"error_code", std::string(describe(kind).reason)}});
  }
  slot->Increment();
}

void WorkerMetrics::model_tokens(ModelSeries& series, std::uint64_t input, std::uint64_t output) {
  series.input_tokens->Observe(static_cast<double>(input));
  series.output_tokens->Observe(static_cast<double>(output));
}

WorkerMetrics::TeamSeries& WorkerMetrics::team(std::string_view team) {
  for (const auto& series : teams_) {
    if (series->team == team) return *series;
  }
  auto series = std::make_unique<TeamSeries>();
  series->team.assign(team);
  series->input_tokens = &metrics_.team_tokens.Add({{"team", series->team}, {"type", "input"}});
  series->output_tokens = &metrics_.team_tokens.Add({{"team", series->team}, {"type", "output"}});
  series->limited_requests =
      &metrics_.team_limited.Add({{"team", series->team}, {"limit", "requests"}});
  series->limited_tokens = &metrics_.team_limited.Add({{"team", series->team}, {"limit", "tokens"}});
  teams_.push_back(std::move(series));
  return *teams_.back();
}

void WorkerMetrics::team_request(TeamSeries& series, unsigned status) {
  for (auto& [code, counter] : series.requests) {
    if (code == status) {
      counter->Increment();
      return;
    }
  }
  prometheus::Counter& counter =
      metrics_.team_requests.Add({{"team", series.team}, {"code", std::to_string(status)}});
  series.requests.emplace_back(status, &counter);
  counter.Increment();
}

void WorkerMetrics::team_tokens(TeamSeries& series, std::uint64_t input, std::uint64_t output) {
  series.input_tokens->Increment(static_cast<double>(input));
  series.output_tokens->Increment(static_cast<double>(output));
}

void WorkerMetrics::team_limited(TeamSeries& series, ErrorKind kind) {
  if (kind == ErrorKind::requests_limited) series.limited_requests->Increment();
  if (kind == ErrorKind::tokens_limited) series.limited_tokens->Increment();
}

void WorkerMetrics::retry() { metrics_.retries.Increment(); }

void WorkerMetrics::client_abort() { metrics_.client_aborts.Increment(); }

void WorkerMetrics::shed(std::string_view model, int priority) {
  for (const ShedKey& key : shed_) {
    if (key.priority == priority && key.model == model) {
      key.counter->Increment();
      return;
    }
  }
  prometheus::Counter& counter =
      metrics_.shed.Add({{"model_name", std::string(model)}, {"priority", std::to_string(priority)}});
  shed_.push_back({std::string(model), priority, &counter});
  counter.Increment();
}

}  // namespace infergate::proxy
