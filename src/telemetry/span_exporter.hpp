// The span exporter: sampled requests' records, turned into OTLP spans off the request path.
//
// Like the access log, each worker owns one RecordRing and submit() never blocks, allocates or
// makes a syscall; a full ring drops the record (counted). One exporter thread drains the rings,
// batches up to `batch` records (waiting at most `flush_interval` for a partial batch), encodes
// them (otlp_encode.hpp) and calls `send`, which does the HTTP request within `timeout`. A
// collector that is down or slow costs dropped spans only, counted; nothing waits on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>

#include "infergate/config.hpp"
#include "telemetry/otlp_encode.hpp"
#include "telemetry/record_ring.hpp"

namespace infergate::telemetry {

class SpanExporter {
 public:
  // true when the collector took the batch (a 2xx).
  using Send = std::function<bool(std::string_view body, std::string_view content_type)>;

  SpanExporter(const TracingConfig& config, unsigned workers, Send send);
  ~SpanExporter();  // stop()
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Worker `worker`'s thread only, for a sampled record. False: the ring is full (counted).
  bool submit(unsigned worker, const RequestRecord& record) noexcept;

  void start();
  void stop();  // one last export of what is queued, then joins; idempotent

  // infergate_tracing_spans_exported_total, infergate_tracing_spans_dropped_total{reason},
  // infergate_tracing_export_requests_total{result}.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct alignas(64) Lane {
    explicit Lane(std::size_t capacity) : ring(capacity) {}
    RecordRing ring;
    std::atomic<std::uint64_t> dropped{0};
  };

  void run();
  std::size_t gather();  // moves what the rings hold into batch_, up to the batch size
  void export_batch();

  TracingConfig config_;
  Send send_;
  OtlpResource resource_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<RequestRecord> batch_;  // exporter thread only
  std::string body_;                  // exporter thread only
  std::atomic<std::uint64_t> exported_{0}, failed_spans_{0}, requests_ok_{0}, requests_failed_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace infergate::telemetry
