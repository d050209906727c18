// The KV block index: re-keying by tokens, removal, clear, per-endpoint bound, seq gaps/restarts.
#include <doctest/doctest.h>

#include <numeric>

#include "routing/kv_block_index.hpp"

using namespace infergate::kv;

namespace {

std::vector<std::int64_t> tokens(std::size_t n, std::int64_t start = 0) {
  std::vector<std::int64_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

// A BlockStored for blocks [first, first+n) of `toks` with engine hashes base+i.
KvEvent stored(const std::vector<std::int64_t>& toks, std::size_t first, std::size_t n,
               BlockKey base, std::size_t bs = 4) {
  KvEvent e;
  e.block_size = static_cast<std::int64_t>(bs);
  for (std::size_t i = 0; i < n; ++i) e.block_hashes.push_back(base + first + i);
  if (first > 0) e.parent = base + first - 1;
  e.token_ids.assign(toks.begin() + first * bs, toks.begin() + (first + n) * bs);
  return e;
}

KvEventBatch batch(std::vector<KvEvent> evs) {
  KvEventBatch b;
  b.events = std::move(evs);
  return b;
}

}  // namespace

TEST_CASE("stored blocks match the request's chained token keys") {
  KvBlockIndex idx(100);
  auto toks = tokens(16);
  CHECK(idx.apply("a", 0, batch({stored(toks, 0, 2, 1000)})) == KvBlockIndex::Seq::First);
  CHECK(idx.apply("a", 1, batch({stored(toks, 2, 1, 1000)})) == KvBlockIndex::Seq::InOrder);
  auto keys = chain_keys(toks, 4);
  REQUIRE(keys.size() == 4);
  CHECK(idx.match("a", keys) == 3);
  CHECK(idx.match("b", keys) == 0);
  CHECK(idx.block_size("a") == 4);
  // Different first block: nothing matches even if later tokens agree.
  auto other = toks;
  other[0] = 99;
  CHECK(idx.match("a", chain_keys(other, 4)) == 0);
  CHECK(idx.state("a").blocks == 3);
}

TEST_CASE("engine hashes are opaque: another endpoint's hashes for the same tokens match too") {
  KvBlockIndex idx(100);
  auto toks = tokens(8);
  idx.apply("a", 0, batch({stored(toks, 0, 2, 1)}));
  idx.apply("b", 0, batch({stored(toks, 0, 2, 555)}));
  auto keys = chain_keys(toks, 4);
  CHECK(idx.match("a", keys) == 2);
  CHECK(idx.match("b", keys) == 2);
}

TEST_CASE("removal and clear") {
  KvBlockIndex idx(100);
  auto toks = tokens(12);
  idx.apply("a", 0, batch({stored(toks, 0, 3, 10)}));
  KvEvent rm;
  rm.type = KvEvent::Type::Removed;
  rm.block_hashes = {11};
  idx.apply("a", 1, batch({rm}));
  auto keys = chain_keys(toks, 4);
  CHECK(idx.match("a", keys) == 1);  // block 1 gone: the chain stops there
  CHECK(idx.state("a").blocks == 2);
  KvEvent cl;
  cl.type = KvEvent::Type::AllCleared;
  idx.apply("a", 2, batch({cl}));
  CHECK(idx.match("a", keys) == 0);
  CHECK(idx.state("a").blocks == 0);
}

TEST_CASE("a child of an unknown parent is not keyed") {
  KvBlockIndex idx(100);
  auto toks = tokens(8);
  idx.apply("a", 0, batch({stored(toks, 1, 1, 10)}));
  CHECK(idx.state("a").blocks == 0);
}

TEST_CASE("per-endpoint cap evicts the oldest stored block") {
  KvBlockIndex idx(3);
  auto toks = tokens(16);
  idx.apply("a", 0, batch({stored(toks, 0, 4, 10)}));
  const auto st = idx.state("a");
  CHECK(st.blocks == 3);
  CHECK(st.evicted == 1);
  CHECK(idx.match("a", chain_keys(toks, 4)) == 0);  // block 0 evicted: no leading match
  // A separate chain on another endpoint is unaffected by a's cap.
  idx.apply("b", 0, batch({stored(toks, 0, 2, 10)}));
  CHECK(idx.match("b", chain_keys(toks, 4)) == 2);
}

TEST_CASE("a sequence gap clears the endpoint and re-learns from the new batch") {
  KvBlockIndex idx(100);
  auto toks = tokens(8);
  auto other = tokens(8, 500);
  idx.apply("a", 0, batch({stored(toks, 0, 2, 10)}));
  CHECK(idx.apply("a", 5, batch({stored(other, 0, 1, 90)})) == KvBlockIndex::Seq::Gap);
  CHECK(idx.match("a", chain_keys(toks, 4)) == 0);
  CHECK(idx.match("a", chain_keys(other, 4)) == 1);
  const auto st = idx.state("a");
  CHECK(st.gaps == 1);
  CHECK(st.last_seq == 5);
  CHECK(idx.apply("a", 6, batch({})) == KvBlockIndex::Seq::InOrder);
}

TEST_CASE("a publisher restart (seq back to 0) clears the endpoint") {
  KvBlockIndex idx(100);
  auto toks = tokens(8);
  idx.apply("a", 0, batch({stored(toks, 0, 2, 10)}));
  idx.apply("a", 1, batch({}));
  CHECK(idx.apply("a", 0, batch({})) == KvBlockIndex::Seq::Restart);
  CHECK(idx.match("a", chain_keys(toks, 4)) == 0);
  CHECK(idx.state("a").restarts == 1);
  idx.erase("a");
  CHECK(idx.states().empty());
}

TEST_CASE("chain_keys ignores a trailing partial block and long blocks hash in pieces") {
  CHECK(chain_keys(tokens(7), 4).size() == 1);
  CHECK(chain_keys(tokens(7), 0).empty());
  auto big = tokens(300);
  KvBlockIndex idx(10);
  KvEvent e = stored(big, 0, 2, 1, 150);
  idx.apply("a", 0, batch({e}));
  CHECK(idx.match("a", chain_keys(big, 150)) == 2);
}
