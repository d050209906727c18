// The shared store: one thread that owns a hiredis connection and runs the lease script for the
// counters that asked (limits/lease.hpp), in pipelined batches.
//
// Why hiredis's blocking API on its own thread, not redisAsyncContext on an Asio loop: hiredis
// ships no Asio adapter (we would write and maintain one), while the blocking context has connect
// and command timeouts built in (redis_timeout bounds every call), pipelining (append N commands,
// read N replies) gives the batching we need, and this thread is the only one that ever waits on
// Redis: workers hand it work through a queue and never block on it.
//
// Failure (connect refused, timeout, I/O error, a reply of the wrong shape, an error reply): the
// store is down, logged once per change, counted; calls in flight are dropped; the thread
// reconnects with exponential backoff (100 ms doubling to 2 s, with jitter). When it is up again
// the epoch moves on, so every lease starts afresh. Idle, it PINGs once a second so the up gauge
// tells the truth.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "infergate/config.hpp"
#include "limits/lease.hpp"
#include "limits/stats.hpp"
#include "limits/table.hpp"

struct redisContext;

namespace infergate::limits::detail {

// One script call for one counter. The entry's refs were taken by whoever queued it.
struct Op {
  Entry* entry;
  Kind kind;
  std::uint64_t limit;
  RefillArgs args;
  std::uint32_t epoch;
};

class RedisStore {
 public:
  RedisStore(const LimitsConfig& config, Table& table, Stats& stats);
  ~RedisStore();
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  void start();  // returns after the first connection attempt
  void stop();

  bool up() const noexcept { return up_.load(std::memory_order_acquire); }
  std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }

  // From a worker, under the entry's shard lock: never blocks on Redis (a short queue lock).
  void enqueue(const Op& op);

 private:
  void run();
  bool connect();
  void disconnect();
  void set_up(bool up, const char* reason);
  // Waits up to `wait` for work, then swaps the queue into `out` (the workers go on pushing into
  // out's old buffer, which already has capacity: no allocation on their side after warm-up).
  void take(std::vector<Op>& out, std::chrono::milliseconds wait);
  void housekeeping(std::vector<Op>& batch, Clock::time_point now);
  bool exchange(std::vector<Op>& batch);
  bool pipeline(const std::vector<Op>& batch, const std::vector<std::size_t>& todo, bool by_sha,
                std::vector<std::optional<Reply>>& replies, std::vector<std::size_t>& noscript);
  bool ping();
  void finish(const Op& op, const Reply* reply, Clock::time_point now);
  void abort_all(std::vector<Op>& batch);

  const LimitsConfig config_;
  Table& table_;
  Stats& stats_;
  redisContext* ctx_ = nullptr;  // the thread's only
  std::string sha_;              // the script's SHA1 on the current connection
  std::string last_error_;       // why the latest call failed (logged on the state change)

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Op> queue_;  // guarded by mu_
  bool sleeping_ = false;  // guarded by mu_: the thread waits on cv_
  bool stopping_ = false;  // guarded by mu_
  bool first_done_ = false;  // guarded by mu_: the first connection attempt is over

  std::atomic<bool> up_{false};
  std::atomic<std::uint32_t> epoch_{1};
  bool ever_changed_ = false;  // the first state is logged as a change too
  std::thread thread_;
};

}  // namespace infergate::limits::detail
