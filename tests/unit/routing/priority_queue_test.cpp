// The wait-queue model: bands, FIFO within a band, size and age bounds, removal, displacement.
#include <doctest/doctest.h>

#include "routing/priority_queue.hpp"

using namespace infergate;
using namespace std::chrono_literals;

namespace {
const PriorityQueue::Clock::time_point t0 = PriorityQueue::Clock::time_point{} + 100s;
}

TEST_CASE("pop order: highest band first, first come first served within a band") {
  struct Case {
    std::vector<std::pair<PriorityQueue::Id, int>> pushes;  // in arrival order
    std::vector<PriorityQueue::Id> order;
  };
  const std::vector<Case> cases = {
      {{{1, 0}, {2, 0}, {3, 0}}, {1, 2, 3}},
      {{{1, 0}, {2, 1}, {3, -1}, {4, 1}}, {2, 4, 1, 3}},
      {{{1, -5}, {2, 7}, {3, -5}}, {2, 1, 3}},
  };
  for (const Case& c : cases) {
    PriorityQueue q({100, 30s});
    auto now = t0;
    for (auto [id, priority] : c.pushes) CHECK(q.push(id, priority, now += 1ms).queued);
    std::vector<PriorityQueue::Id> got;
    while (auto e = q.pop()) got.push_back(e->id);
    CHECK(got == c.order);
    CHECK(q.empty());
  }
}

TEST_CASE("bounded size: refuse, or displace the newest of a lower band") {
  PriorityQueue q({3, 30s});
  CHECK(q.push(1, 0, t0).queued);
  CHECK(q.push(2, -1, t0).queued);
  CHECK(q.push(3, -1, t0).queued);
  const auto same = q.push(4, -1, t0);  // full, not above the lowest band
  CHECK_FALSE(same.queued);
  CHECK_FALSE(same.displaced);
  const auto higher = q.push(5, 1, t0);
  CHECK(higher.queued);
  CHECK(higher.displaced == PriorityQueue::Id{3});
  CHECK(q.size() == 3);
  CHECK_FALSE(q.push(5, 1, t0).queued);  // already queued
  PriorityQueue none({0, 30s});
  CHECK_FALSE(none.push(1, 1, t0).queued);
}

TEST_CASE("requeue puts a popped entry back at the head of its band, arrival time kept") {
  PriorityQueue q({10, 1s});
  q.push(1, 0, t0);
  q.push(2, 0, t0 + 10ms);
  const auto first = q.pop();
  REQUIRE(first);
  CHECK(q.requeue(*first));
  CHECK_FALSE(q.requeue(*first));
  CHECK(q.front()->id == 1);
  CHECK(q.next_deadline() == t0 + 1s);
  CHECK(q.size() == 2);
}

TEST_CASE("removal by id and expiry by age") {
  PriorityQueue q({10, 1s});
  q.push(1, 0, t0);
  q.push(2, 1, t0 + 200ms);
  q.push(3, 0, t0 + 500ms);
  q.push(4, 1, t0 + 900ms);
  CHECK(q.next_deadline() == t0 + 1s);
  CHECK(q.remove(2));
  CHECK_FALSE(q.remove(2));
  CHECK(q.band_size(1) == 1);
  std::vector<PriorityQueue::Id> expired;
  q.expire(t0 + 1000ms, expired);
  CHECK(expired.empty());  // exactly max_wait: not yet
  q.expire(t0 + 1600ms, expired);
  CHECK(expired == std::vector<PriorityQueue::Id>{1, 3});
  CHECK(q.size() == 1);
  CHECK(q.front()->id == 4);
  CHECK(q.next_deadline() == t0 + 1900ms);
  q.expire(t0 + 5s, expired);
  CHECK(q.empty());
  CHECK_FALSE(q.next_deadline());
  CHECK_FALSE(q.pop());
}
