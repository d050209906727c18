// The last minutes of load, one sample a second, for the status page's plots (/debug/history).
// The control thread takes a sample from the live snapshot and the request counters; the ring
// keeps the last `capacity` of them. No I/O here: testable with hand-made samples.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "infergate/routing.hpp"

namespace infergate::proxy {

// One endpoint at one instant. Scraped values are NaN when unknown (never scraped, or the
// server does not report them).
struct EndpointSample {
  std::string pool;
  std::string address;  // "ip:port"
  double waiting = 0;
  double running = 0;
  double kv_usage = 0;
  std::int32_t in_flight = 0;     // this gateway's requests still running there
  std::uint64_t dispatched = 0;   // requests this gateway sent there so far (a running total)
  bool healthy = true;
};

struct StatusSample {
  std::int64_t unix_ms = 0;
  double requests = 0;  // answered so far, all workers (a running total)
  double errors = 0;    // refusals and failures so far
  std::vector<EndpointSample> endpoints;
};

// Reads every endpoint of `snapshot` (atomics only; no lock, no allocation beyond the sample).
StatusSample take_sample(const Snapshot& snapshot, std::chrono::steady_clock::time_point now,
                         std::int64_t unix_ms, double requests, double errors);

class StatusHistory {
 public:
  static constexpr std::size_t kDefaultCapacity = 300;  // five minutes at one a second

  explicit StatusHistory(std::size_t capacity = kDefaultCapacity);

  // Any thread (a mutex: one writer a second, a reader per page poll).
  void add(StatusSample sample);
  std::size_t size() const;

  // Columns, oldest first, so that the page can plot them directly and 300 samples stay small:
  // {"capacity":300,"unix_ms":[..],"requests":[..],"errors":[..],
  //  "endpoints":[{"pool":"p","address":"ip:port","waiting":[..],"running":[..],
  //   "kv_usage":[..],"in_flight":[..],"dispatched":[..],"healthy":[..]}]}
  // Every column has one entry per sample; null where the endpoint was absent from that sample
  // (added or removed by a table change) or the value is unknown. Endpoints in order of first
  // appearance.
  std::string render_json() const;

 private:
  mutable std::mutex mutex_;
  std::vector<StatusSample> ring_;  // grows to capacity_, then overwritten from next_
  std::size_t capacity_;
  std::size_t next_ = 0;  // where the next sample goes once the ring is full
};

}  // namespace infergate::proxy
