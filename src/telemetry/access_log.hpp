// The access log: one line per request, written off the request path.
//
// Each worker owns one RecordRing and submits into it; submit() never blocks, allocates or makes
// a syscall, and a full ring drops the record (counted). One writer thread drains the rings in
// turn, formats a batch into one buffer and hands it to write(2): a few syscalls per batch, never
// fsync. Lines are in ring order per worker; lines of different workers interleave by batch, with
// no global time order (sort by `time` when it matters).
//
// Sampling keeps `sample_ratio` of the successful requests (a per-worker xorshift, no shared
// state); failed() records (status >= 400, no status, client aborted) are always kept.
//
// Rotation: reopen() (e.g. on SIGUSR1) makes the writer reopen the path at its next turn; the
// writer also checks about once a second whether the path still names the open file, and
// reopens when it was moved away or deleted (logrotate without copytruncate). Lines formatted
// before the writer noticed go to the old file.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>

#include "infergate/config.hpp"
#include "telemetry/access_log_file.hpp"
#include "telemetry/access_log_format.hpp"
#include "telemetry/record_ring.hpp"

namespace infergate::telemetry {

class AccessLog {
 public:
  // One ring of `config.buffer` records per worker. Throws std::runtime_error when the file
  // cannot be opened, std::invalid_argument on an unknown field (both start-up errors).
  AccessLog(const AccessLogConfig& config, unsigned workers);
  ~AccessLog();  // stops the writer (draining) when it runs
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Worker `worker`'s thread only. Samples, then pushes into that worker's ring. False: not
  // logged (sampled out, or dropped because the ring is full; only the latter is counted; a
  // worker index out of range is refused too). Construct an AccessLog only when enabled.
  bool submit(unsigned worker, const RequestRecord& record) noexcept;

  void start();  // starts the writer thread
  void stop();   // drains what is queued, writes it, joins the writer; idempotent

  // Any thread, async-signal-safe (one atomic store): the writer reopens the file at its next
  // turn (within a few milliseconds).
  void reopen() noexcept;

  // infergate_access_log_records_total, infergate_access_log_dropped_total{reason},
  // infergate_access_log_write_errors_total, infergate_access_log_reopens_total.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Lane;

  void run();
  std::size_t drain_round();  // one pass over every ring; returns the records taken
  void write_buffer();
  void check_file(std::chrono::steady_clock::time_point now);
  std::uint64_t dropped_buffer_full() const noexcept;  // summed over the lanes

  std::vector<std::unique_ptr<Lane>> lanes_;
  LineFormatter formatter_;
  LogFile file_;
  bool keep_all_;
  std::uint64_t keep_below_;  // a success is kept when the lane's next random number is below

  std::string buffer_;         // writer thread only
  std::size_t buffered_ = 0;   // records in buffer_
  std::chrono::steady_clock::time_point next_check_{};
  std::chrono::steady_clock::time_point next_error_log_{};  // write errors are logged at most every 10 s

  std::atomic<bool> reopen_requested_{false};
  std::atomic<std::uint64_t> records_{0}, write_errors_{0}, lost_{0}, reopens_{0};

  std::mutex mutex_;  // the writer's sleep, and stop
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace infergate::telemetry
