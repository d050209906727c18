// The sliding-minute counter against a plain reference: a map of second -> units.
#include "limits/window.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

using infergate::limits::detail::Window;
using std::chrono::milliseconds;

namespace {

// What the window should answer, computed the slow way.
struct Reference {
  std::map<std::int64_t, std::uint64_t> units;  // second -> units counted in it
  std::int64_t head = 0;

  void advance(std::int64_t sec) {
    head = std::max(head, sec);
    while (!units.empty() && units.begin()->first <= head - Window::kSeconds) units.erase(units.begin());
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (const auto& [s, n] : units) t += n;
    return t;
  }
  milliseconds until_freed(std::uint64_t want, std::int64_t now_ms) const {
    if (want == 0) return milliseconds{0};
    std::uint64_t acc = 0;
    for (const auto& [s, n] : units) {
      acc += n;
      if (acc >= want) return milliseconds{std::max<std::int64_t>(0, (s + Window::kSeconds) * 1000 - now_ms)};
    }
    return milliseconds{Window::kSeconds * 1000};
  }
};

}  // namespace

TEST_CASE("units leave the window 61 s after their second began") {
  Window w;
  w.advance(100);
  w.add(5);
  w.advance(130);
  w.add(2);
  CHECK(w.total() == 7);
  CHECK(w.until_freed(1, 130'500) == milliseconds{30'500});  // second 100 leaves at 161 s
  CHECK(w.until_freed(6, 130'500) == milliseconds{60'500});  // second 130 leaves at 191 s
  CHECK(w.until_freed(8, 130'500) == milliseconds{61'000});  // more than is counted: a whole window
  CHECK(w.until_freed(0, 130'500) == milliseconds{0});
  w.advance(160);
  CHECK(w.total() == 7);
  w.advance(161);
  CHECK(w.total() == 2);
  w.advance(1000);  // a long pause forgets everything
  CHECK(w.total() == 0);
}

TEST_CASE("an older clock changes nothing; remove takes back only what is still counted") {
  Window w;
  w.advance(10);
  w.add(4);
  w.advance(9);  // another thread's older second
  CHECK(w.head() == 10);
  w.add(1);
  CHECK(w.total() == 5);
  w.remove(10, 2);
  CHECK(w.total() == 3);
  w.remove(10, 100);  // no more than the bucket holds
  CHECK(w.total() == 0);
  w.advance(20);
  w.add(3);
  w.remove(21, 3);  // a second not yet begun
  w.remove(20 - Window::kSeconds, 3);  // a second already gone
  CHECK(w.total() == 3);
}

TEST_CASE("random traffic: the window agrees with the reference at every step") {
  std::mt19937_64 rng(20261207);
  Window w;
  Reference ref;
  std::int64_t sec = 1'000;
  for (int step = 0; step < 20'000; ++step) {
    sec += static_cast<std::int64_t>(rng() % 4 == 0 ? rng() % 5 : 0) + (rng() % 500 == 0 ? 70 : 0);
    w.advance(sec);
    ref.advance(sec);
    const std::uint64_t n = rng() % 7;
    w.add(n);
    ref.units[sec] += n;
    if (rng() % 5 == 0) {
      const std::int64_t back = sec - static_cast<std::int64_t>(rng() % 70);
      const std::uint64_t take = rng() % 4;
      w.remove(back, take);
      if (auto it = ref.units.find(back); it != ref.units.end() && back > sec - Window::kSeconds) {
        it->second -= std::min(it->second, take);
      }
    }
    REQUIRE(w.total() == ref.total());
    const std::int64_t now_ms = sec * 1000 + static_cast<std::int64_t>(rng() % 1000);
    const std::uint64_t want = rng() % (ref.total() + 3);
    REQUIRE(w.until_freed(want, now_ms) == ref.until_freed(want, now_ms));
  }
}
