// Backoff: each wait within [step, 2*step) and under the cap; steps double; reset starts over.
#include <doctest/doctest.h>

#include "k8s/backoff.hpp"

using infergate::k8s::detail::Backoff;
using ms = std::chrono::milliseconds;

TEST_CASE("backoff waits grow with jitter and stay under the cap") {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Backoff backoff(ms(100), ms(3000), seed);
    ms step(100);
    for (int i = 0; i < 12; ++i) {
      ms wait = backoff.next();
      CAPTURE(seed);
      CAPTURE(i);
      CHECK(wait >= std::min(step, ms(3000)));
      CHECK(wait < std::max(step * 2, ms(1)));
      CHECK(wait <= ms(3000));
      step = std::min(step * 2, ms(3000));
    }
    CHECK(backoff.step() == ms(3000));
    backoff.reset();
    CHECK(backoff.step() == ms(100));
    ms first = backoff.next();
    CHECK(first >= ms(100));
    CHECK(first < ms(200));
  }
}

TEST_CASE("backoff jitter spreads waits") {
  Backoff a(ms(1000), ms(30000), 1), b(ms(1000), ms(30000), 2);
  int differ = 0;
  for (int i = 0; i < 5; ++i) differ += a.next() != b.next();
  CHECK(differ > 0);
}

TEST_CASE("backoff with nonsense bounds stays positive") {
  Backoff backoff(ms(0), ms(0), 3);
  CHECK(backoff.next() >= ms(1));
}
