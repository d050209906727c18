// The model of a pool's wait queue, for requests the scheduler answered with Verdict::queue.
// Pure bookkeeping (no I/O, no timers, no threads): the proxy owns one per pool, guards it (a
// mutex or a single strand), and drives it: push on Verdict::queue, remove when the client leaves,
// expire on a timer (next_deadline), pop and schedule() again when capacity frees.
//
// Order: priority bands, highest first; first come, first served within a band. Bounds: at most
// max_size entries (a full queue refuses, unless the newcomer outranks the lowest band: then the
// newest entry of the lowest band is displaced and refused instead) and max_wait each (then 503).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "infergate/config.hpp"

namespace infergate {

class PriorityQueue {
 public:
  using Id = std::uint64_t;
  using Clock = std::chrono::steady_clock;

  struct Entry {
    Id id = 0;
    int priority = 0;
    Clock::time_point enqueued;
  };
  struct PushResult {
    bool queued = false;          // false: refused (full, or the id is already queued) -> 503
    std::optional<Id> displaced;  // an entry pushed out to make room -> 503 for it
  };

  explicit PriorityQueue(QueueConfig config = {}) : config_(config) {}

  PushResult push(Id id, int priority, Clock::time_point now);
  // Puts a popped entry back at the head of its band, keeping its arrival time (schedule() said
  // `queue` again). False when the id is queued already.
  bool requeue(const Entry& entry);
  bool remove(Id id);                 // the client left; false when not queued
  std::optional<Entry> pop();         // the next to dispatch: highest band, oldest first
  const Entry* front() const;         // the same, left in place; nullptr when empty
  // Removes every entry that waited longer than max_wait; appends their ids to `expired`
  // (oldest first within a band).
  void expire(Clock::time_point now, std::vector<Id>& expired);
  // When the next entry will expire; nullopt when empty.
  std::optional<Clock::time_point> next_deadline() const;

  std::size_t size() const { return index_.size(); }
  bool empty() const { return index_.empty(); }
  bool contains(Id id) const { return index_.contains(id); }
  std::size_t band_size(int priority) const;
  const QueueConfig& config() const { return config_; }

 private:
  using Band = std::list<Entry>;
  void erase(std::map<int, Band, std::greater<>>::iterator band, Band::iterator entry);

  QueueConfig config_;
  std::map<int, Band, std::greater<>> bands_;  // highest priority first
  std::unordered_map<Id, std::pair<int, Band::iterator>> index_;
};

}  // namespace infergate
