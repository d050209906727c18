// The per-pool wait queues: routing's PriorityQueue behind one mutex, tickets woken on their
// session's own executor, one admission at a time per pool.
#include "proxy/wait_queue.hpp"

#include <map>
#include <utility>

#include <boost/asio/post.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "proxy/metrics.hpp"
#include "routing/scheduler.hpp"

namespace infergate::proxy {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// The Inference Extension's flow-control outcome names (its queue-duration histogram label).
constexpr std::string_view kDispatched = "Dispatched";
constexpr std::string_view kRejectedCapacity = "RejectedCapacity";
constexpr std::string_view kEvictedTtl = "EvictedTTL";
constexpr std::string_view kEvictedCancelled = "EvictedContextCancelled";
constexpr std::string_view kEvictedDisplaced = "EvictedDisplaced";
constexpr std::string_view kEvictedOther = "EvictedOther";

const prometheus::Histogram::BucketBoundaries kWaitBuckets{
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

const Pool* find_pool(const Snapshot& snapshot, std::string_view name) {
  for (const auto& pool : snapshot.pools) {
    if (pool->name == name) return pool.get();
  }
  return nullptr;
}

}  // namespace

struct WaitRoom::PoolQueue {
  PoolQueue(std::string n, QueueConfig config) : name(std::move(n)), queue(config) {}
  std::string name;
  PriorityQueue queue;
  std::unordered_map<PriorityQueue::Id, TicketPtr> tickets;  // the queued ones
  bool turn_taken = false;  // an admitted ticket has not reported back yet
  std::map<int, prometheus::Gauge*> gauges;
  std::map<std::pair<int, std::string_view>, prometheus::Histogram*> durations;
  PriorityQueue::Id next_id = 0;
};

WaitRoom::WaitRoom(SnapshotHolder& snapshots, Metrics& metrics)
    : snapshots_(snapshots), metrics_(metrics) {}

WaitRoom::~WaitRoom() = default;

WaitRoom::PoolQueue& WaitRoom::queue_of(const std::string& name, const QueueConfig& config) {
  auto it = queues_.find(name);
  if (it == queues_.end()) {
    it = queues_.emplace(name, std::make_unique<PoolQueue>(name, config)).first;
  } else if (it->second->queue.config() != config && it->second->queue.empty() &&
             !it->second->turn_taken) {
    // A reload changed the bounds: they apply from the next time the queue is empty.
    it->second->queue = PriorityQueue(config);
  }
  return *it->second;
}

void WaitRoom::set_gauge(PoolQueue& q, int priority) {
  prometheus::Gauge*& gauge = q.gauges[priority];
  if (!gauge) {
    gauge = &metrics_.queue_size.Add({{"inference_pool", q.name}, {"priority", std::to_string(priority)}});
  }
  gauge->Set(static_cast<double>(q.queue.band_size(priority)));
}

void WaitRoom::observe(PoolQueue& q, const WaitTicket& ticket, std::string_view outcome,
                       SteadyTime now) {
  prometheus::Histogram*& histogram = q.durations[{ticket.entry_.priority, outcome}];
  if (!histogram) {
    histogram = &metrics_.queue_duration.Add({{"inference_pool", q.name},
                                              {"priority", std::to_string(ticket.entry_.priority)},
                                              {"outcome", std::string(outcome)}},
                                             kWaitBuckets);
  }
  histogram->Observe(std::chrono::duration<double>(now - ticket.entry_.enqueued).count());
}

void WaitRoom::wake(const TicketPtr& ticket, WaitOutcome outcome) {
  ticket->outcome_ = outcome;
  // On the session's own thread: the timer is only ever touched there. A weak reference, so a
  // wake still pending when the worker stops does not keep the timer past its io_context.
  net::post(ticket->timer.get_executor(), [weak = std::weak_ptr<WaitTicket>(ticket)] {
    if (const TicketPtr t = weak.lock()) t->timer.cancel();
  });
}

bool WaitRoom::enqueue(const TicketPtr& ticket, const Pool& pool, int priority, SteadyTime now) {
  std::lock_guard lock(mutex_);
  PoolQueue& q = queue_of(pool.name, pool.queue);
  ticket->pool_ = pool.name;
  ticket->entry_ = {++q.next_id, priority, now};
  ticket->outcome_ = WaitOutcome::waiting;
  ticket->holds_turn_ = false;
  const PriorityQueue::PushResult pushed = q.queue.push(ticket->entry_.id, priority, now);
  if (!pushed.queued) {
    observe(q, *ticket, kRejectedCapacity, now);
    return false;
  }
  ticket->deadline_ = now + q.queue.config().max_wait;
  q.tickets.emplace(ticket->entry_.id, ticket);
  waiting_.fetch_add(1, std::memory_order_relaxed);
  set_gauge(q, priority);
  if (pushed.displaced) {
    const auto it = q.tickets.find(*pushed.displaced);
    const TicketPtr displaced = std::move(it->second);
    q.tickets.erase(it);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    set_gauge(q, displaced->entry_.priority);
    observe(q, *displaced, kEvictedDisplaced, now);
    wake(displaced, WaitOutcome::displaced);
  }
  // Capacity may have freed between the scheduler's verdict and now (no one nudges an empty queue).
  admit(q, now);
  return true;
}

WaitOutcome WaitRoom::settle(WaitTicket& ticket, bool client_gone, bool draining, SteadyTime now) {
  std::lock_guard lock(mutex_);
  if (ticket.outcome_ != WaitOutcome::waiting) return ticket.outcome_;
  if (!client_gone && !draining && now < ticket.deadline_) return WaitOutcome::waiting;
  const auto it = queues_.find(ticket.pool_);
  if (it == queues_.end()) return ticket.outcome_;
  PoolQueue& q = *it->second;
  if (!q.queue.remove(ticket.entry_.id)) return ticket.outcome_;
  q.tickets.erase(ticket.entry_.id);
  waiting_.fetch_sub(1, std::memory_order_relaxed);
  set_gauge(q, ticket.entry_.priority);
  ticket.outcome_ = client_gone ? WaitOutcome::cancelled
                    : draining  ? WaitOutcome::shut_down
                                : WaitOutcome::expired;
  observe(q, ticket,
          client_gone ? kEvictedCancelled : draining ? kEvictedOther : kEvictedTtl, now);
  return ticket.outcome_;
}

void WaitRoom::report(const TicketPtr& shared, Report how) {
  WaitTicket& ticket = *shared;
  std::lock_guard lock(mutex_);
  if (!ticket.holds_turn_) return;
  ticket.holds_turn_ = false;
  const auto it = queues_.find(ticket.pool_);
  if (it == queues_.end()) return;
  PoolQueue& q = *it->second;
  q.turn_taken = false;
  const SteadyTime now = std::chrono::steady_clock::now();
  if (how == Report::requeue && q.queue.requeue(ticket.entry_)) {
    // Still saturated: it waits again at the head of its band, for the next nudge.
    ticket.outcome_ = WaitOutcome::waiting;
    q.tickets.emplace(ticket.entry_.id, shared);
    waiting_.fetch_add(1, std::memory_order_relaxed);
    set_gauge(q, ticket.entry_.priority);
    return;
  }
  observe(q, ticket, kDispatched, now);
  admit(q, now);  // the turn passes on
}

void WaitRoom::abandon(WaitTicket& ticket) {
  std::lock_guard lock(mutex_);
  const auto it = queues_.find(ticket.pool_);
  if (it == queues_.end()) return;
  PoolQueue& q = *it->second;
  const SteadyTime now = std::chrono::steady_clock::now();
  if (ticket.outcome_ == WaitOutcome::waiting && q.queue.remove(ticket.entry_.id)) {
    q.tickets.erase(ticket.entry_.id);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    set_gauge(q, ticket.entry_.priority);
    observe(q, ticket, kEvictedCancelled, now);
    ticket.outcome_ = WaitOutcome::cancelled;
  }
  if (ticket.holds_turn_) {
    ticket.holds_turn_ = false;
    q.turn_taken = false;
    admit(q, now);
  }
}

void WaitRoom::admit(PoolQueue& q, SteadyTime now) {
  if (q.turn_taken || q.queue.empty()) return;
  const SnapshotPtr snapshot = snapshots_.load();
  // A pool the table no longer has: its waiters are admitted so that they are scheduled again
  // (and find their model elsewhere, or their refusal).
  const Pool* pool = find_pool(*snapshot, q.name);
  if (pool && !pool_accepts(*pool, q.queue.front()->priority, now)) return;
  const std::optional<PriorityQueue::Entry> entry = q.queue.pop();
  const auto it = q.tickets.find(entry->id);
  const TicketPtr ticket = std::move(it->second);
  q.tickets.erase(it);
  waiting_.fetch_sub(1, std::memory_order_relaxed);
  set_gauge(q, entry->priority);
  ticket->holds_turn_ = true;
  q.turn_taken = true;
  wake(ticket, WaitOutcome::admitted);
}

bool WaitRoom::has_waiters(std::string_view pool) {
  if (idle()) return false;
  std::lock_guard lock(mutex_);
  for (const auto& [name, q] : queues_) {
    if (name == pool) return !q->queue.empty();
  }
  return false;
}

void WaitRoom::nudge(std::string_view pool) {
  if (idle()) return;
  std::lock_guard lock(mutex_);
  for (auto& [name, q] : queues_) {
    if (name == pool) admit(*q, std::chrono::steady_clock::now());
  }
}

void WaitRoom::nudge_all() {
  if (idle()) return;
  std::lock_guard lock(mutex_);
  const SteadyTime now = std::chrono::steady_clock::now();
  for (auto& [name, q] : queues_) admit(*q, now);
}

}  // namespace infergate::proxy
