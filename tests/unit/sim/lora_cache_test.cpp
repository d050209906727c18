#include <doctest/doctest.h>

#include "sim/lora_cache.hpp"

using namespace infergate::sim;

TEST_CASE("a non-resident adapter costs the load delay, a resident one nothing") {
  LoraCache c(2, ms(50));
  CHECK(c.acquire("a", 0) == ms(50));
  CHECK(c.acquire("a", ms(10)) == ms(50));  // still loading: ready when the load ends
  CHECK(c.acquire("a", ms(80)) == ms(80));  // resident
  CHECK(c.loads() == 1);
}

TEST_CASE("LRU eviction skips adapters in use and waits when all are") {
  LoraCache c(2, ms(50));
  REQUIRE(c.acquire("a", 0));
  REQUIRE(c.acquire("b", 0));
  CHECK_FALSE(c.acquire("c", 0));  // both pinned
  c.release("a");
  CHECK(c.acquire("c", ms(100)) == ms(150));  // evicts a
  CHECK_FALSE(c.resident("a"));
  CHECK(c.evictions() == 1);
  c.release("b");
  c.release("c");
  REQUIRE(c.acquire("b", ms(200)));  // touch b: c becomes least recently used
  c.release("b");
  REQUIRE(c.acquire("d", ms(300)));
  CHECK(c.resident("b"));
  CHECK_FALSE(c.resident("c"));
  CHECK(c.resident_lru() == std::vector<std::string>{"b", "d"});
}

TEST_CASE("running lists pinned adapters only") {
  LoraCache c(3, 0);
  REQUIRE(c.acquire("z", 0));
  REQUIRE(c.acquire("y", 0));
  c.release("z");
  CHECK(c.running() == std::vector<std::string>{"y"});
}
