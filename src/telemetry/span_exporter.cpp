#include "telemetry/span_exporter.hpp"

#include <unistd.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include "telemetry/background_thread.hpp"

namespace infergate::telemetry {
namespace {

std::string instance_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid());
}

prometheus::MetricFamily counter(std::string name, std::string help,
                                 std::vector<std::pair<std::string, double>> by_label,
                                 const std::string& label) {
  prometheus::MetricFamily family{std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
  for (auto& [value_label, value] : by_label) {
    prometheus::ClientMetric metric;
    if (!label.empty()) metric.label.push_back({label, value_label});
    metric.counter.value = value;
    family.metric.push_back(std::move(metric));
  }
  return family;
}

// Spans per record: the request, and the upstream attempt or the queue when there was one.
std::uint64_t spans_of(const RequestRecord& r) {
  return 1u + (r.queue_start_us >= 0 ? 1u : 0u) + (r.upstream_start_us >= 0 ? 1u : 0u);
}

}  // namespace

SpanExporter::SpanExporter(const TracingConfig& config, unsigned workers, Send send)
    : config_(config), send_(std::move(send)), resource_{config.service_name, instance_id()} {
  for (unsigned i = 0; i < std::max(1u, workers); ++i) {
    lanes_.push_back(std::make_unique<Lane>(config.buffer));
  }
  batch_.reserve(config.batch);
}

SpanExporter::~SpanExporter() { stop(); }

bool SpanExporter::submit(unsigned worker, const RequestRecord& record) noexcept {
  Lane& lane = *lanes_[worker % lanes_.size()];
  if (lane.ring.push(record)) return true;
  lane.dropped.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SpanExporter::start() {
  thread_ = std::thread([this] {
    lower_this_thread_priority();
    run();
  });
}

void SpanExporter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t SpanExporter::gather() {
  std::size_t taken = 0;
  for (auto& lane : lanes_) {
    const std::size_t room = config_.batch - batch_.size();
    if (room == 0) break;
    taken += lane->ring.pop([this](const RequestRecord& r) { batch_.push_back(r); }, room);
  }
  return taken;
}

void SpanExporter::export_batch() {
  if (batch_.empty()) return;
  encode_otlp_traces(batch_, resource_, body_);
  std::uint64_t spans = 0;
  for (const RequestRecord& r : batch_) spans += spans_of(r);
  if (send_(body_, "application/x-protobuf")) {
    exported_.fetch_add(spans, std::memory_order_relaxed);
    requests_ok_.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed_spans_.fetch_add(spans, std::memory_order_relaxed);
    if (requests_failed_.fetch_add(1, std::memory_order_relaxed) == 0) {
      spdlog::warn("tracing: export to {} failed; spans are dropped until it answers (counted)",
                   config_.endpoint);
    }
  }
  batch_.clear();
}

void SpanExporter::run() {
  using Clock = std::chrono::steady_clock;
  // Rings are polled: producers never notify (that would be a syscall on the request path).
  constexpr auto kPoll = std::chrono::milliseconds(5);
  auto first_at = Clock::time_point::max();  // when the oldest record of batch_ was gathered
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kPoll, [this] { return stopping_; });
      stopping = stopping_;
    }
    while (gather() > 0 && batch_.size() < config_.batch) {
    }
    const auto now = Clock::now();
    if (!batch_.empty() && first_at == Clock::time_point::max()) first_at = now;
    if (batch_.size() >= config_.batch || (!batch_.empty() && now - first_at >= config_.flush_interval) ||
        stopping) {
      export_batch();
      first_at = Clock::time_point::max();
    }
    if (stopping) {
      while (gather() > 0) export_batch();  // what is left, in full batches (bounded by the rings)
      export_batch();
      return;
    }
  }
}

std::vector<prometheus::MetricFamily> SpanExporter::collect() const {
  std::uint64_t full = 0;
  for (const auto& lane : lanes_) full += lane->dropped.load(std::memory_order_relaxed);
  std::vector<prometheus::MetricFamily> out;
  out.push_back(counter("infergate_tracing_spans_exported_total", "Spans a collector accepted",
                        {{"", static_cast<double>(exported_.load())}}, ""));
  out.push_back(counter("infergate_tracing_spans_dropped_total",
                        "Spans not exported: a worker's queue was full (counted per request), or the collector failed",
                        {{"queue_full", static_cast<double>(full)},
                         {"export_failed", static_cast<double>(failed_spans_.load())}},
                        "reason"));
  out.push_back(counter("infergate_tracing_export_requests_total", "Export requests to the collector",
                        {{"ok", static_cast<double>(requests_ok_.load())},
                         {"error", static_cast<double>(requests_failed_.load())}},
                        "result"));
  return out;
}

}  // namespace infergate::telemetry
