// power-of-two-choices: the shorter of two random queues.
#include "plugin_fixture.hpp"

#include <algorithm>
#include <map>

using namespace infergate;
using namespace infergate::testing;

TEST_CASE("power-of-two-choices: the shorter queue of two random candidates first") {
  auto picker = make_plugin<Picker>("power-of-two-choices");
  RequestFacts facts;
  Rng rng(4);
  // Queues 0..3: the longest queue is never first (it loses every pair), the shortest is first
  // whenever it is drawn (half the time with 4 candidates).
  Fleet fleet({with_queue(0), with_queue(1), with_queue(2), with_queue(3)});
  std::map<std::uint32_t, int> first;
  for (int i = 0; i < 3000; ++i) {
    const auto order = pick(*picker, request_for(facts), fleet, rng);
    REQUIRE(order.size() == 4);
    ++first[order[0]];
  }
  CHECK(first[3] == 0);
  CHECK(std::abs(first[0] - 1500) < 150);
  CHECK(std::abs(first[1] - 1000) < 150);
  CHECK(std::abs(first[2] - 500) < 150);
  Fleet one({with_queue(7)});
  CHECK(pick(*picker, request_for(facts), one, rng) == std::vector<std::uint32_t>{0});
}
