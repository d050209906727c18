// The KV event decoder: vLLM's array-like and map encodings, tags, hashes as int or bytes.
#include <doctest/doctest.h>

#include "routing/kv_events.hpp"
#include "routing/msgpack_lite.hpp"

using namespace infergate;
using namespace infergate::kv;

namespace {
std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("array-like batch round-trips through encode_batch") {
  KvEventBatch b;
  b.ts = 1.5;
  KvEvent st;
  st.block_hashes = {7, 0xfedcba9876543210ULL};
  st.parent = 3;
  st.token_ids = {1, 2, 3, 4, 100000, -1};
  st.block_size = 3;
  st.medium = "GPU";
  b.events.push_back(st);
  KvEvent rm;
  rm.type = KvEvent::Type::Removed;
  rm.block_hashes = {7};
  b.events.push_back(rm);
  KvEvent cl;
  cl.type = KvEvent::Type::AllCleared;
  b.events.push_back(cl);
  b.dp_rank = 0;
  auto d = decode_batch(bytes(encode_batch(b)));
  REQUIRE(d);
  CHECK(d->ts == 1.5);
  CHECK(d->dp_rank == 0);
  REQUIRE(d->events.size() == 3);
  CHECK(d->events[0].type == KvEvent::Type::Stored);
  CHECK(d->events[0].block_hashes == std::vector<BlockKey>{7, 0xfedcba9876543210ULL});
  CHECK(d->events[0].parent == BlockKey{3});
  CHECK(d->events[0].token_ids == std::vector<std::int64_t>{1, 2, 3, 4, 100000, -1});
  CHECK(d->events[0].block_size == 3);
  CHECK(!d->events[0].lora_id);
  CHECK(d->events[0].medium == "GPU");
  CHECK(d->events[1].type == KvEvent::Type::Removed);
  CHECK(d->events[1].block_hashes == std::vector<BlockKey>{7});
  CHECK(d->events[2].type == KvEvent::Type::AllCleared);
}

TEST_CASE("map encoding (newer vLLM) with bytes hashes and extra fields") {
  msgpack::Writer w;
  w.map(2);
  w.str("ts"); w.real(2.0);
  w.str("events"); w.array(2);
  w.map(8);
  w.str("type"); w.str("BlockStored");
  w.str("block_hashes"); w.array(1); w.bin(std::string(32, '\x01'));
  w.str("parent_block_hash"); w.nil();
  w.str("token_ids"); w.array(2); w.integer(5); w.integer(6);
  w.str("block_size"); w.integer(2);
  w.str("lora_id"); w.integer(4);
  w.str("medium"); w.nil();
  w.str("group_idx"); w.integer(0);
  w.map(1);
  w.str("type"); w.str("SomethingNew");
  auto d = decode_batch(bytes(w.data()));
  REQUIRE(d);
  REQUIRE(d->events.size() == 1);  // unknown tag skipped
  CHECK(d->events[0].block_hashes.size() == 1);
  CHECK(d->events[0].block_hashes[0] != 0);
  CHECK(!d->events[0].parent);
  CHECK(d->events[0].lora_id == 4);
  CHECK(d->events[0].medium.empty());
}

TEST_CASE("bytes hashes key the same in BlockStored and BlockRemoved") {
  msgpack::Writer w;
  w.array(2); w.real(0); w.array(2);
  w.array(7); w.str("BlockStored"); w.array(1); w.bin("abc"); w.nil();
  w.array(1); w.integer(9); w.integer(1); w.nil(); w.nil();
  w.array(3); w.str("BlockRemoved"); w.array(1); w.bin("abc"); w.nil();
  auto d = decode_batch(bytes(w.data()));
  REQUIRE(d);
  REQUIRE(d->events.size() == 2);
  CHECK(d->events[0].block_hashes == d->events[1].block_hashes);
}

TEST_CASE("malformed payloads are rejected") {
  CHECK(!decode_batch(bytes(std::string("\x92\xcb", 2))));            // truncated float
  CHECK(!decode_batch(bytes(std::string("\x92\xa1x\x90", 4))));       // ts not a number
  msgpack::Writer w;
  w.array(2); w.real(0); w.array(1);
  w.array(2); w.str("BlockStored"); w.str("not-a-list");
  CHECK(!decode_batch(bytes(w.data())));
  std::string trailing = encode_batch(KvEventBatch{}) + "x";
  CHECK(!decode_batch(bytes(trailing)));
  std::string deep(40, '\x91');
  deep += '\xc0';
  CHECK(!msgpack::decode(bytes(deep)));
}

TEST_CASE("sequence frame is 8 bytes big-endian signed") {
  const std::uint8_t one[8] = {0, 0, 0, 0, 0, 0, 1, 2};
  CHECK(decode_seq(one) == 258);
  const std::uint8_t end[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(decode_seq(end) == -1);
  const std::uint8_t shorter[4] = {0, 0, 0, 1};
  CHECK(!decode_seq(shorter));
}

TEST_CASE("msgpack integers of every width") {
  msgpack::Writer w;
  w.array(6);
  w.integer(-5); w.integer(-100000); w.uinteger(200); w.uinteger(70000);
  w.uinteger(0x1'0000'0000ULL); w.uinteger(~0ULL);
  auto v = msgpack::decode(bytes(w.data()));
  REQUIRE(v);
  CHECK(v->items[0].integer == -5);
  CHECK(v->items[1].integer == -100000);
  CHECK(v->items[2].integer == 200);
  CHECK(v->items[3].integer == 70000);
  CHECK(v->items[4].integer == 0x1'0000'0000LL);
  CHECK(static_cast<std::uint64_t>(v->items[5].integer) == ~0ULL);
}
