#include <doctest/doctest.h>

#include <vector>

#include "sim/kv_cache.hpp"

using namespace infergate::sim;

namespace {
std::vector<std::uint32_t> tokens(std::uint32_t n, std::uint32_t salt = 0) {
  std::vector<std::uint32_t> t(n);
  for (std::uint32_t i = 0; i < n; ++i) t[i] = i * 31 + salt;
  return t;
}
}  // namespace

TEST_CASE("block hashes are chained and cover full blocks only") {
  KvCache kv(16, 4);
  auto a = kv.block_hashes(tokens(10));
  CHECK(a.size() == 2);
  auto b = tokens(10);
  b[0] = 999;  // a change in block 0 changes every later hash
  auto hb = kv.block_hashes(b);
  CHECK(hb[0] != a[0]);
  CHECK(hb[1] != a[1]);
  auto c = tokens(10);
  c[9] = 5;  // a change in the partial block changes nothing
  CHECK(kv.block_hashes(c) == a);
}

TEST_CASE("allocation reuses the cached prefix and counts it") {
  KvCache kv(16, 4);
  auto h = kv.block_hashes(tokens(16));  // 4 full blocks
  auto first = kv.allocate(h, 5, 4);
  REQUIRE(first);
  CHECK(first->cached_blocks == 0);
  CHECK(kv.used_blocks() == 5);
  auto second = kv.allocate(h, 5, 3);  // shares 3 blocks (max_cached), takes 2 new
  REQUIRE(second);
  CHECK(second->cached_blocks == 3);
  CHECK(kv.used_blocks() == 7);
  kv.release(first->blocks);
  kv.release(second->blocks);
  CHECK(kv.used_blocks() == 0);
  CHECK(kv.cached_prefix(h) == 4);  // freed blocks stay cached
}

TEST_CASE("allocation fails without changing anything when blocks run out") {
  KvCache kv(8, 4);
  auto a = kv.allocate({}, 6, 0);
  REQUIRE(a);
  CHECK_FALSE(kv.allocate({}, 3, 0));
  CHECK(kv.used_blocks() == 6);
  kv.release(a->blocks);
  CHECK(kv.allocate({}, 8, 0));
}

TEST_CASE("eviction takes the least recently freed blocks, tail before head") {
  KvCache kv(4, 2);
  auto ha = kv.block_hashes(tokens(4, 1));  // 2 blocks
  auto hb = kv.block_hashes(tokens(4, 2));
  auto a = kv.allocate(ha, 2, 2);
  auto b = kv.allocate(hb, 2, 2);
  kv.release(a->blocks);  // a freed first: evicted first
  kv.release(b->blocks);
  auto c = kv.allocate({}, 1, 0);  // evicts a's tail block
  REQUIRE(c);
  CHECK(kv.cached_prefix(ha) == 1);
  CHECK(kv.cached_prefix(hb) == 2);
  auto d = kv.allocate({}, 2, 0);  // evicts a's head, then b's tail
  REQUIRE(d);
  CHECK(kv.cached_prefix(ha) == 0);
  CHECK(kv.cached_prefix(hb) == 1);
}

TEST_CASE("a block in use is never evicted") {
  KvCache kv(3, 2);
  auto h = kv.block_hashes(tokens(4));
  auto a = kv.allocate(h, 2, 2);
  REQUIRE(a);
  CHECK_FALSE(kv.allocate({}, 2, 0));
  CHECK(kv.cached_prefix(h) == 2);
}
