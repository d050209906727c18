// The gateway's wait queues (issue 4, "Priorities and overload"): one per pool, shared by every
// worker, for requests the scheduler answered with Verdict::queue (a saturated pool, or one with
// no endpoint yet). Off the fast path: a request touches the room only when it must wait, so one
// mutex around routing's PriorityQueue is enough.
//
// Admission is one at a time per pool: the room wakes the head waiter when the pool accepts
// (routing's pool_accepts), and wakes the next only once that one reported back (it was sent to
// an endpoint, queued again, or left). So every admission sees the load the previous one added
// (record_dispatch), and a burst of capacity is not handed to the whole queue at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "infergate/routing.hpp"
#include "routing/priority_queue.hpp"

namespace prometheus {
class Gauge;
class Histogram;
}  // namespace prometheus

namespace infergate::proxy {

namespace net = boost::asio;
class Metrics;

// What became of a waiting request.
enum class WaitOutcome : std::uint8_t {
  waiting,    // still in its queue
  admitted,   // its turn: schedule it again (and report back with WaitRoom::report)
  displaced,  // pushed out by a higher priority (503 queue_full)
  expired,    // waited max_wait (503 queue_full)
  cancelled,  // its client left
  shut_down,  // the gateway is draining (503 shutting_down: retry on another instance)
};

// One waiting request, shared by its session (which waits on `timer`) and the room (which
// cancels the timer, on the session's own executor, to wake it).
class WaitTicket {
 public:
  explicit WaitTicket(net::any_io_executor executor) : timer(std::move(executor)) {}
  net::steady_timer timer;  // expires at the max wait; cancelled to wake the session early
  std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }

 private:
  friend class WaitRoom;
  std::string pool_;  // the queue it is in (or was admitted from)
  PriorityQueue::Entry entry_;
  std::chrono::steady_clock::time_point deadline_;
  WaitOutcome outcome_ = WaitOutcome::waiting;  // guarded by the room's mutex
  bool holds_turn_ = false;  // admitted and not yet reported back
};
using TicketPtr = std::shared_ptr<WaitTicket>;

class WaitRoom {
 public:
  WaitRoom(SnapshotHolder& snapshots, Metrics& metrics);
  ~WaitRoom();
  WaitRoom(const WaitRoom&) = delete;
  WaitRoom& operator=(const WaitRoom&) = delete;

  // No request waits anywhere: one relaxed load, for the fast path's "capacity freed" hook.
  bool idle() const noexcept { return waiting_.load(std::memory_order_relaxed) == 0; }

  // Requests wait in `pool`'s queue: a newcomer must not overtake them (it queues too, or is
  // shed), even when the pool accepts at this instant.
  bool has_waiters(std::string_view pool);

  // Queues `ticket` in `pool`'s queue with the bounds of `pool.queue`. False: the queue is full
  // (503 queue_full). A lower-priority waiter it displaced is woken with `displaced`.
  bool enqueue(const TicketPtr& ticket, const Pool& pool, int priority,
               std::chrono::steady_clock::time_point now);

  // The session woke up: its outcome. A ticket still queued is taken out when the client left
  // (`client_gone`: cancelled), the gateway drains (shut_down) or its deadline passed (expired);
  // otherwise it stays (a spurious wake) and `waiting` is returned.
  WaitOutcome settle(WaitTicket& ticket, bool client_gone, bool draining,
                     std::chrono::steady_clock::time_point now);

  // An admitted ticket reports how its new schedule() went; the pool's turn passes on.
  enum class Report : std::uint8_t {
    sent,      // dispatched (or refused, or failed): done with the queue
    requeue,   // the pool was saturated again: back at the head of its band, arrival time kept
  };
  void report(const TicketPtr& ticket, Report how);

  // The session is ending (or the request is over): whatever the ticket holds is given up
  // (removed from its queue, its turn passed on). Idempotent.
  void abandon(WaitTicket& ticket);

  // Capacity may have freed in `pool` (a response finished there) or anywhere (a scrape was
  // published, a new snapshot was installed): admit the head waiter of each such pool that
  // accepts. Any thread.
  void nudge(std::string_view pool);
  void nudge_all();

 private:
  struct PoolQueue;
  PoolQueue& queue_of(const std::string& name, const QueueConfig& config);
  void admit(PoolQueue& queue, std::chrono::steady_clock::time_point now);  // mutex held
  void wake(const TicketPtr& ticket, WaitOutcome outcome);                   // mutex held
  void observe(PoolQueue& queue, const WaitTicket& ticket, std::string_view outcome,
               std::chrono::steady_clock::time_point now);  // mutex held
  void set_gauge(PoolQueue& queue, int priority);            // mutex held

  SnapshotHolder& snapshots_;
  Metrics& metrics_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<PoolQueue>> queues_;
  std::atomic<std::size_t> waiting_{0};  // tickets queued, every pool
};

}  // namespace infergate::proxy
