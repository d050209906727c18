// The local limiter: a sliding minute per key (and key + model), all-or-nothing charges, usage
// settling the token estimate, and exact counts under concurrent admission.
#include <atomic>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "limits/limiter.hpp"

namespace infergate::limits {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1000);

RateLimit requests(std::uint64_t n) { return {n, 0}; }

}  // namespace

TEST_CASE("requests per minute: the limit, then a refusal saying when to retry, then room again") {
  Limiter limiter(LimitsConfig{});
  const RateLimit limit = requests(5);
  const Subject who{"k", "m", limit, nullptr};
  for (int i = 0; i < 5; ++i) {
    Admission a = limiter.admit(who, 0, kStart + milliseconds(i));
    REQUIRE_FALSE(a.refusal);
    REQUIRE(a.requests);
    CHECK(a.requests->limit == 5);
    CHECK(a.requests->remaining == static_cast<std::uint64_t>(4 - i));
  }
  Admission refused = limiter.admit(who, 0, kStart + milliseconds(10));
  REQUIRE(refused.refusal);
  CHECK(*refused.refusal == ErrorKind::requests_limited);
  CHECK(refused.retry_after > seconds(59));
  CHECK(refused.retry_after <= seconds(61));
  CHECK_FALSE(refused.charge);
  CHECK(limiter.admit(who, 0, kStart + seconds(30)).refusal);
  CHECK_FALSE(limiter.admit(who, 0, kStart + milliseconds(10) + refused.retry_after).refusal);
}

TEST_CASE("no 60 s window ever holds more than the limit") {
  Limiter limiter(LimitsConfig{});
  const RateLimit limit = requests(10);
  const Subject who{"k", "m", limit, nullptr};
  std::vector<std::int64_t> admitted_ms;
  for (std::int64_t ms = 0; ms < 180'000; ms += 250) {  // 4 a second, for three minutes
    if (!limiter.admit(who, 0, kStart + milliseconds(ms)).refusal) admitted_ms.push_back(ms);
  }
  CHECK(admitted_ms.size() >= 29);  // about 10 a minute over three minutes
  for (std::size_t i = 0; i < admitted_ms.size(); ++i) {
    std::size_t in_window = 0;
    for (std::size_t j = i; j < admitted_ms.size() && admitted_ms[j] < admitted_ms[i] + 60'000; ++j) ++in_window;
    CHECK(in_window <= 10);
  }
}

TEST_CASE("a key + model limit and the key's own are charged together or not at all") {
  Limiter limiter(LimitsConfig{});
  const RateLimit key_limit = requests(3);
  const RateLimit model_limit = requests(1);
  const Subject a{"k", "a", key_limit, &model_limit};
  const Subject b{"k", "b", key_limit, nullptr};
  CHECK_FALSE(limiter.admit(a, 0, kStart).refusal);
  CHECK(limiter.admit(a, 0, kStart).refusal);  // the model's one is used; the key keeps two
  CHECK_FALSE(limiter.admit(b, 0, kStart).refusal);
  CHECK_FALSE(limiter.admit(b, 0, kStart).refusal);
  CHECK(limiter.admit(b, 0, kStart).refusal);  // the key's three
}

TEST_CASE("tokens: the estimate is charged, the usage settles it") {
  Limiter limiter(LimitsConfig{});
  const RateLimit limit{0, 10'000};
  const Subject who{"k", "m", limit, nullptr};
  for (int i = 0; i < 6; ++i) {
    Admission a = limiter.admit(who, 4'000, kStart + milliseconds(i));
    REQUIRE_FALSE(a.refusal);
    a.charge.settle(5, kStart + milliseconds(i));
  }
  Admission held = limiter.admit(who, 4'000, kStart + milliseconds(10));  // held, not settled
  REQUIRE_FALSE(held.refusal);
  Admission second = limiter.admit(who, 4'000, kStart + milliseconds(11));
  REQUIRE_FALSE(second.refusal);
  Admission third = limiter.admit(who, 4'000, kStart + milliseconds(12));
  REQUIRE(third.refusal);
  CHECK(*third.refusal == ErrorKind::tokens_limited);
}

TEST_CASE("concurrent admission admits exactly the limit") {
  Limiter limiter(LimitsConfig{});
  const RateLimit limit = requests(500);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      const Subject who{"shared", "m", limit, nullptr};
      for (int i = 0; i < 1000; ++i) {
        if (!limiter.admit(who, 0, kStart + milliseconds(i)).refusal) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(admitted.load() == 500);
}

TEST_CASE("limits.window shortens the minute for tests: the waits shrink with it") {
  LimitsConfig config;
  config.window = seconds(3);
  Limiter limiter(config);
  const RateLimit limit = requests(1);
  const Subject who{"k", "m", limit, nullptr};
  CHECK_FALSE(limiter.admit(who, 0, kStart).refusal);
  Admission refused = limiter.admit(who, 0, kStart + milliseconds(1));
  REQUIRE(refused.refusal);
  CHECK(refused.retry_after <= milliseconds(3'100));
  CHECK_FALSE(limiter.admit(who, 0, kStart + milliseconds(3'100)).refusal);
}

}  // namespace infergate::limits
